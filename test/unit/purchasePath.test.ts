// The rehearsal's scratch copy of the purchase path must have the shapes of the real one (same classes, same
// fields in the same order, numbers of the same kind), or V8 drops at the opening what it compiled during
// the rehearsal. Both come from buildPurchasePath; this walks the two graphs side by side.
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../ormconfig';
import {
  buildOrderQueue,
  buildPurchasePath,
  PurchasePath,
  purchasePathSettings,
  rehearsalSettings,
} from '../../src/buildPurchasePath';
import { loadConfig } from '../../src/config/loadConfig';
import { BlacklistRepository } from '../../src/repositories/BlacklistRepository';
import { CaptchaPool, InlineCaptchaRenderer, ThreadCaptchaRenderer } from '../../src/services/CaptchaPool';
import { CaptchaService } from '../../src/services/CaptchaService';
import { PurchaseMeter } from '../../src/services/PurchaseMeter';
import { UserRepository } from '../../src/repositories/UserRepository';

const log = pino({ level: 'silent' });

/** What V8 keeps apart in a field: small integers, other numbers, and everything else by its type. */
function kind(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 ? 'smi' : 'double';
  if (value === null) return 'null';
  if (typeof value === 'object') return `object ${Object.getPrototypeOf(value)?.constructor?.name ?? 'null-prototype'}`;
  return typeof value;
}

/** Every difference in shape between two object graphs, as "path: real vs scratch". */
function shapeDifferences(real: unknown, scratch: unknown, path = 'path', seen = new Set<unknown>()): string[] {
  if (real === scratch) return []; // shared, so the same shape by identity
  if (kind(real) !== kind(scratch)) return [`${path}: ${kind(real)} vs ${kind(scratch)}`];
  if (typeof real !== 'object' || real === null || seen.has(real)) return [];
  seen.add(real);
  // Containers and key material: their class is their shape here; their contents are data.
  if (real instanceof Map || real instanceof Set || ArrayBuffer.isView(real) || real.constructor?.name === 'KeyObject') return [];
  const realKeys = Object.keys(real);
  const scratchKeys = Object.keys(scratch as object);
  if (realKeys.join() !== scratchKeys.join()) return [`${path}: fields [${realKeys}] vs [${scratchKeys}]`];
  return realKeys.flatMap((k) =>
    // The logger is a child logger in the scratch copy, and the captcha renderer (threads for the shop, inline
    // for the rehearsal) is only called by the pool's top-up: neither is on the request's path.
    k === 'log' || k === 'renderer' ? [] : shapeDifferences((real as Record<string, unknown>)[k], (scratch as Record<string, unknown>)[k], `${path}.${k}`, seen),
  );
}

describe('the purchase path and its rehearsal copy', () => {
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = createDataSource({ kind: 'sqlite', path: ':memory:' });
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
  });

  /** What the shop and its rehearsal copy share: repositories and the overload guard; and the shop's captchas. */
  function parts() {
    // The shop renders in threads (none is started until a captcha is asked for); the rehearsal has its own.
    const captchas = new CaptchaService(new CaptchaPool(new ThreadCaptchaRenderer(1, log), 5000, log));
    return { users: new UserRepository(dataSource), blacklist: new BlacklistRepository(dataSource), captchas, overloaded: () => false, meter: new PurchaseMeter(), log };
  }

  function rehearsalCaptchas(): CaptchaService {
    return new CaptchaService(new CaptchaPool(new InlineCaptchaRenderer({ create: () => ({ text: 'abcde', png: Buffer.alloc(8) }) }), 10_000, log, 1000));
  }

  function paths(env: Record<string, string>): { real: PurchasePath; scratch: PurchasePath } {
    const config = loadConfig({ NODE_ENV: 'test', ...env });
    const settings = purchasePathSettings(config);
    const shared = parts();
    const real = buildPurchasePath(settings, { ...shared, queue: buildOrderQueue(config, log) });
    const scratch = buildPurchasePath(rehearsalSettings(settings, Buffer.alloc(16, 7)), {
      ...shared,
      captchas: rehearsalCaptchas(),
      meter: new PurchaseMeter(),
      queue: buildOrderQueue({ amqpUrl: config.amqpUrl, queueName: `${config.queueName}.rehearsal.00000000`, expiresMs: 60_000 }, log.child({ rehearsal: true })),
      log: log.child({ rehearsal: true }),
    });
    return { real, scratch };
  }

  it.each([
    ['the in-process queue and defaults', {}],
    ['RabbitMQ and production-like limits', { AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672', USER_INTERVAL_MS: '10000', TRUST_PROXY: '1' }],
  ])('when built for %s, then every object of the scratch copy has the shape of its real twin', (_name, env) => {
    const { real, scratch } = paths(env);

    expect(shapeDifferences(real, scratch)).toEqual([]);
  });

  it('when a setting of the copy were a number of another kind, then the walk would tell', () => {
    const { real } = paths({});
    const config = loadConfig({ NODE_ENV: 'test' });
    const odd = buildPurchasePath(
      { ...rehearsalSettings({ keys: config.cookieKeys, sessionTtlMs: 1, userIntervalMs: 0, bucketPerSecond: 1, bucketCapacity: 1, ipLimit: 1, ipWindowMs: 1, trustProxy: false, sessionCookie: 'sid', secure: false, abuse: config.abuse, sealLeadMs: 0 }, Buffer.alloc(16, 7)), ipLimit: 1e12 },
      { ...parts(), queue: buildOrderQueue(config, log) },
    );

    expect(shapeDifferences(real, odd)).toContainEqual(expect.stringMatching(/^path\.funnel\.guards\.perIp\.limit: smi vs double$/));
  });
});
