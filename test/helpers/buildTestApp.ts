// Builds the real app for a test: real migrations on a fresh database (a temp SQLite file, or a new
// MariaDB database when TEST_DATABASE_URL is set), a fresh queue (in-process, or a uniquely named
// RabbitMQ queue when TEST_AMQP_URL is set), and a captcha generator whose answer the test knows.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { createApp, RequestHandler } from '../../src/app';
import { loadConfig } from '../../src/config/loadConfig';
import { buildContainer, Container } from '../../src/container';
import type { HoldSettings } from '../../src/queue/WriterHold';
import type { CaptchaGenerator } from '../../src/services/CaptchaPool';

export type DatabaseKind = 'sqlite' | 'mysql';

/** The databases the integration suite runs on: SQLite always, MariaDB when TEST_DATABASE_URL is set. */
export function testDatabases(): DatabaseKind[] {
  return process.env.TEST_DATABASE_URL ? ['sqlite', 'mysql'] : ['sqlite'];
}

/** The queues the suite runs on: in-process always, RabbitMQ when TEST_AMQP_URL is set. */
export function testQueues(): ('memory' | 'rabbitmq')[] {
  return process.env.TEST_AMQP_URL ? ['memory', 'rabbitmq'] : ['memory'];
}

export interface Backend {
  database: DatabaseKind;
  queue: 'memory' | 'rabbitmq';
}

/** SQLite with the in-process queue always; MariaDB with RabbitMQ when both test URLs are set. */
export function testBackends(): Backend[] {
  const all: Backend[] = [{ database: 'sqlite', queue: 'memory' }];
  if (process.env.TEST_DATABASE_URL && process.env.TEST_AMQP_URL) all.push({ database: 'mysql', queue: 'rabbitmq' });
  return all;
}

export const CAPTCHA_TEXT = 'AbCd5';
/** A 1x1 PNG: integration tests never look at the picture. */
const FIXED_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64');
export const fixedCaptcha: CaptchaGenerator = {
  create: () => ({ text: CAPTCHA_TEXT, png: FIXED_PNG }),
};

export interface TestApp {
  app: RequestHandler;
  c: Container;
  env: Record<string, string>;
  /** Stops the app and drops its database and queues. */
  close(): Promise<void>;
  /** Stops the app gracefully but keeps database and queue, for restart tests. */
  stop(): Promise<void>;
  /** Stops like a killed process: no drain, unsettled messages stay queued. Keeps database and queue. */
  crash(): Promise<void>;
}

export interface TestAppOptions {
  database?: DatabaseKind;
  queue?: 'memory' | 'rabbitmq';
  env?: Record<string, string>;
  captcha?: CaptchaGenerator;
  /** The order writer's hold beyond WRITER_HOLD_MS (a wider window, for tests on a busy machine). */
  writerHold?: Partial<HoldSettings>;
  /** Reuse the database and queue of an earlier app (restart tests). */
  reuse?: TestApp;
}

const TEST_KEY = Buffer.alloc(16, 7).toString('base64');

/** The order writer thread, run from its TypeScript source. */
const writerScript = {
  filename: path.join(__dirname, 'tsWorker.js'),
  extra: { entry: path.join(__dirname, '../../src/queue/orderWriterThread.ts') },
};

export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const kind = options.database ?? 'sqlite';
  const queueKind = options.queue ?? 'memory';
  const cleanups: (() => Promise<void> | void)[] = [];
  let env: Record<string, string>;
  if (options.reuse) {
    env = { ...options.reuse.env, ...(options.env ?? {}) };
  } else {
    env = {
      NODE_ENV: 'test',
      COOKIE_KEYS: TEST_KEY,
      USER_INTERVAL_MS: '0',
      CAPTCHA_POOL_SIZE: '64',
      // Shared test machines stall; overload shedding has its own test.
      LAG_THRESHOLD_MS: '60000',
      IP_LIMIT: '100000',
      PURCHASE_BUCKET_CAPACITY: '100000',
      PURCHASE_BUCKET_PER_SECOND: '100000',
      PAGE_BUCKET_CAPACITY: '100000',
      PAGE_BUCKET_PER_SECOND: '100000',
      // Registration's proof-of-work, solved by the tests (and the e2e browser) in a few milliseconds.
      POW_COST: '100',
      ...(options.env ?? {}),
    };
    if (kind === 'mysql') {
      const server = process.env.TEST_DATABASE_URL;
      if (!server) throw new Error('TEST_DATABASE_URL is not set');
      const name = `fs_test_${randomBytes(5).toString('hex')}`;
      const admin = await mysql.createConnection(server);
      await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      await admin.end();
      const url = new URL(server);
      url.pathname = `/${name}`;
      env.DATABASE_URL = url.toString();
      cleanups.push(async () => {
        const conn = await mysql.createConnection(server);
        await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await conn.end();
      });
    } else {
      const dir = mkdtempSync(path.join(tmpdir(), 'flash-sale-test-'));
      env.DATABASE_URL = `sqlite:${path.join(dir, 'test.sqlite')}`;
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    }
    if (queueKind === 'rabbitmq') {
      const amqp = process.env.TEST_AMQP_URL;
      if (!amqp) throw new Error('TEST_AMQP_URL is not set');
      env.AMQP_URL = options.env?.AMQP_URL ?? amqp;
      env.QUEUE_NAME = `fs-test-${randomBytes(5).toString('hex')}`;
    }
  }
  const config = loadConfig(env);
  const queueOverride = options.reuse && !config.amqpUrl ? options.reuse.c.queue : undefined;
  const c = buildContainer(config, {
    captchaGenerator: options.captcha ?? fixedCaptcha,
    queue: queueOverride,
    writerScript,
    writerHold: options.writerHold,
  });
  await c.start();
  await c.services.captchaPool.fill();
  const app = createApp(c);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await c.stop();
  };
  const crash = async () => {
    if (stopped) return;
    stopped = true;
    c.services.funnel.close();
    await c.cluster?.stop(false); // silent from now on, its leases left to expire
    await c.writer.kill();
    if (c.queue.kind === 'rabbitmq') await c.queue.close();
    else await c.queue.stopConsuming();
    await c.dataSource.destroy();
  };
  return {
    app,
    c,
    env,
    stop,
    crash,
    close: async () => {
      if (config.amqpUrl && 'destroy' in c.queue) {
        await stop();
        const { RabbitOrderQueue } = await import('../../src/queue/RabbitOrderQueue');
        const q = new RabbitOrderQueue({ url: config.amqpUrl, queue: config.queueName }, c.log);
        await q.connect();
        await q.destroy();
      } else await stop();
      for (const f of (options.reuse ? [] : cleanups).reverse()) await f();
      if (options.reuse) await options.reuse.close();
    },
  };
}
