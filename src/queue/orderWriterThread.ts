// Entry of the order-writer worker thread: its own broker connection (consume only), its own database
// pool, the same OrderConsumer as inline. It tells the main thread which requests were settled, when a
// batch is in hand, and answers pause / resume / stop.
import 'reflect-metadata';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { createDataSource } from '../../ormconfig';
import type { DatabaseConfig } from '../config/loadConfig';
import { PurchasePace } from '../lib/PurchasePace';
import { buildOrderConsumer } from './buildOrderConsumer';
import type { SettlementListener } from './OrderQueue';
import { RabbitOrderQueue } from './RabbitOrderQueue';
import type { HoldSettings } from './WriterHold';

export interface WriterSettings {
  database: DatabaseConfig;
  amqpUrl: string;
  queueName: string;
  logLevel: string;
  /** The main thread's PurchasePace, shared. */
  pace: SharedArrayBuffer;
  hold: HoldSettings;
}

/** What the worker tells the main thread. */
export type FromWriter =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'busy'; busy: boolean }
  | { type: 'settled'; written: string[]; failed: string[]; batches?: number[] }
  | { type: 'paused' };

/** What the main thread tells the worker. */
export type ToWriter = { type: 'pause' } | { type: 'resume' } | { type: 'stop' };

async function run(settings: WriterSettings, port: NonNullable<typeof parentPort>): Promise<void> {
  const post = (m: FromWriter) => port.postMessage(m);
  const log = pino({ level: settings.logLevel, base: { thread: 'order-writer' } });
  const dataSource = createDataSource(settings.database);
  const queue = new RabbitOrderQueue({ url: settings.amqpUrl, queue: settings.queueName }, log);
  // The main thread's OrderTracker learns a batch's outcomes in one message, after its commit.
  let written: string[] = [];
  let failed: string[] = [];
  /** Committed batches since the last report, flattened: size, seconds, inserted, size, ... */
  let batches: number[] = [];
  const settled: SettlementListener = { written: (id) => void written.push(id), failed: (id) => void failed.push(id) };
  const consumer = buildOrderConsumer({
    dataSource,
    databaseKind: settings.database.kind,
    settled,
    pace: new PurchasePace(settings.pace),
    hold: settings.hold,
    log,
    batches: (size, seconds, inserted) => void batches.push(size, seconds, inserted),
  });
  const handle = async (batch: Parameters<typeof consumer.handle>[0]) => {
    post({ type: 'busy', busy: true });
    try {
      await consumer.handle(batch);
    } finally {
      post({ type: 'settled', written, failed, batches });
      written = [];
      failed = [];
      batches = [];
      post({ type: 'busy', busy: false });
    }
  };

  const fail = async (err: Error) => {
    post({ type: 'fatal', message: err.message });
    await shutDown();
  };
  const shutDown = async () => {
    consumer.stop();
    await queue.close().catch((err: Error) => log.warn({ err: err.message }, 'order writer: queue did not close cleanly'));
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
    port.close(); // nothing else keeps the thread alive: it exits
  };

  // Requests are handled one after another, and only once the start has settled: a stop or pause sent
  // while the thread is still connecting must not be undone by the end of its start.
  let chain = (async () => {
    await dataSource.initialize();
    consumer.start();
    await queue.start(handle);
    post({ type: 'ready' });
  })().catch(fail);
  port.on('message', (m: ToWriter) => {
    chain = chain.then(async () => {
      if (m.type === 'pause') {
        consumer.release();
        await queue.stopConsuming();
        post({ type: 'paused' });
      } else if (m.type === 'resume') {
        consumer.start();
        await queue.start(handle).then(() => post({ type: 'ready' }), fail);
      } else await shutDown();
    }).catch((err: Error) => log.error({ err: err.message, request: m.type }, 'order writer request failed'));
  });
}

if (parentPort) void run(workerData as WriterSettings, parentPort);
