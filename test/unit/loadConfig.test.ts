import { ConfigError, DEMO_ADMIN, loadConfig } from '../../src/config/loadConfig';

const KEY_A = Buffer.alloc(16, 1).toString('base64');
const KEY_B = Buffer.alloc(16, 2).toString('base64');

/** The problems a bad environment is refused with; fails the test if it is accepted. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  describe('accounts and abuse', () => {
    it('when nothing is set, then cookies are plain, no HSTS, and the documented login, proof-of-work and abuse defaults apply', () => {
      const c = loadConfig({});

      expect(c.cookies).toEqual({ secure: false, session: 'sid', csrf: 'csrf' });
      expect(c.hstsMaxAge).toBe(0);
      expect(c.login).toEqual({ windowMs: 600_000, ipFails: 30, accountIpFails: 10, challengeAfter: 20 });
      expect(c.powCost).toBe(50_000);
      expect(c.abuse).toEqual({ windowMs: 60_000, blockMs: 3600_000, captchaWrong: 10, tooFast: 20, ipCaptchaWrong: 0, ipTooFast: 0 });
    });

    it('when in production, then cookies are Secure with __Host- names and HSTS is a year, unless COOKIE_SECURE=false or HSTS_MAX_AGE=0', () => {
      const prod = { NODE_ENV: 'production', COOKIE_KEYS: KEY_A };

      expect(loadConfig(prod)).toMatchObject({ cookies: { secure: true, session: '__Host-sid', csrf: '__Host-csrf' }, hstsMaxAge: 31_536_000 });
      expect(loadConfig({ ...prod, COOKIE_SECURE: 'false', HSTS_MAX_AGE: '0' })).toMatchObject({ cookies: { secure: false, session: 'sid' }, hstsMaxAge: 0 });
      expect(loadConfig({ COOKIE_SECURE: 'true', HSTS_MAX_AGE: '600' })).toMatchObject({ cookies: { session: '__Host-sid' }, hstsMaxAge: 0 });
    });

    it('when the new keys have bad values, then each is named', () => {
      const problems = problemsOf({ COOKIE_SECURE: 'yes', POW_COST: '0', LOGIN_IP_FAILS: '0', ABUSE_TOO_FAST: '-1', HSTS_MAX_AGE: '99999999999' });

      for (const key of ['COOKIE_SECURE', 'POW_COST', 'LOGIN_IP_FAILS', 'ABUSE_TOO_FAST', 'HSTS_MAX_AGE']) {
        expect(problems.some((p) => p.startsWith(`${key}:`))).toBe(true);
      }
    });
  });

  describe('defaults', () => {
    it('when the environment is empty, then it is a development shop on SQLite with the documented defaults', () => {
      const c = loadConfig({});

      expect(c).toMatchObject({
        env: 'development',
        port: 3000,
        host: '0.0.0.0',
        database: { kind: 'sqlite', path: 'data/flash-sale.sqlite' },
        amqpUrl: null,
        queueName: 'flash-sale.orders',
        cookieKeysGenerated: true,
        sessionTtlMs: 24 * 3600_000,
        trustProxy: false,
        logLevel: 'info',
        demo: true,
        admin: DEMO_ADMIN,
        purchase: { bucketPerSecond: 1000, bucketCapacity: 1000, userIntervalMs: 10_000, ipLimit: 600, ipWindowMs: 60_000, lagThresholdMs: 200, rehearsalRequests: 0 },
        pages: { bucketPerSecond: 1000, bucketCapacity: 10_000 },
      });
      expect(c.cookieKeys).toHaveLength(1);
      expect(c.cookieKeys[0]).toHaveLength(16);
    });

    it('when no cookie key is given outside production, then each load generates a different one', () => {
      const [a, b] = [loadConfig({}), loadConfig({})];

      expect(a.cookieKeys[0].equals(b.cookieKeys[0])).toBe(false);
    });

    it('when the config is loaded, then it is frozen', () => {
      const c = loadConfig({});

      expect(Object.isFrozen(c)).toBe(true);
      expect(Object.isFrozen(c.purchase)).toBe(true);
      expect(Object.isFrozen(c.pages)).toBe(true);
    });

    it('when NODE_ENV is test, then logs are silent and there is no demo data or demo admin', () => {
      const c = loadConfig({ NODE_ENV: 'test' });

      expect(c).toMatchObject({ env: 'test', logLevel: 'silent', demo: false, admin: null });
    });

    it('when numbers and names are given, then they are used', () => {
      const c = loadConfig({
        PORT: '8080',
        HOST: '127.0.0.1',
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
        QUEUE_NAME: 'orders.v2',
        SESSION_TTL_HOURS: '2',
        USER_INTERVAL_MS: '0',
        IP_LIMIT: '5',
        LOG_LEVEL: 'warn',
        DEMO: 'false',
      });

      expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', amqpUrl: 'amqp://guest:guest@127.0.0.1:5672', queueName: 'orders.v2' });
      expect(c).toMatchObject({ sessionTtlMs: 2 * 3600_000, logLevel: 'warn', demo: false, admin: null });
      expect(c.purchase).toMatchObject({ userIntervalMs: 0, ipLimit: 5 });
    });
  });

  describe('problems', () => {
    it('when many settings are wrong, then one ConfigError lists every problem', () => {
      const problems = problemsOf({
        PORT: '70000',
        DATABASE_URL: 'postgres://db/shop',
        AMQP_URL: 'http://broker',
        QUEUE_NAME: 'bad name!',
        TRUST_PROXY: 'maybe',
        LOG_LEVEL: 'loud',
        COOKIE_KEYS: Buffer.alloc(8).toString('base64'),
        ADMIN_USER: 'root',
      });

      const fields = problems.map((p) => p.split(':')[0]).sort();
      expect(fields).toEqual(
        ['ADMIN_USER and ADMIN_PASSWORD', 'AMQP_URL', 'COOKIE_KEYS', 'DATABASE_URL', 'LOG_LEVEL', 'PORT', 'QUEUE_NAME', 'TRUST_PROXY'].sort(),
      );
    });

    it('when the config is refused, then the error message names each problem on its own line', () => {
      let error: unknown;
      try {
        loadConfig({ PORT: 'abc', TRUST_PROXY: 'yes' });
      } catch (err) {
        error = err;
      }

      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).name).toBe('ConfigError');
      expect((error as ConfigError).message).toMatch(/^Invalid configuration:\n {2}- PORT: .+\n {2}- TRUST_PROXY: must be false, true or a number of hops$/);
    });

    it('when production has no COOKIE_KEYS, then it is refused', () => {
      expect(problemsOf({ NODE_ENV: 'production', DATABASE_URL: 'mysql://u:p@db:3306/shop' })).toEqual([
        expect.stringMatching(/^COOKIE_KEYS: required in production/),
      ]);
      expect(problemsOf({ NODE_ENV: 'production', COOKIE_KEYS: '' })).toEqual([expect.stringMatching(/^COOKIE_KEYS: required in production/)]);
    });

    it('when production has COOKIE_KEYS, then they are used in order and none is generated', () => {
      const c = loadConfig({ NODE_ENV: 'production', COOKIE_KEYS: `${KEY_A}, ${KEY_B}`, DATABASE_URL: 'mysql://u:p@db:3306/shop' });

      expect(c.cookieKeysGenerated).toBe(false);
      expect(c.cookieKeys.map((k) => k.toString('base64'))).toEqual([KEY_A, KEY_B]);
    });

    it('when a cookie key is not 16 bytes, then the problem names the key and its length', () => {
      const long = Buffer.alloc(32, 3).toString('base64');

      expect(problemsOf({ COOKIE_KEYS: `${KEY_A},${long}` })).toEqual([
        'COOKIE_KEYS: key 2 must be 16 bytes in base64 (AES-128), got 32',
      ]);
      expect(problemsOf({ COOKIE_KEYS: `${KEY_A},` })).toEqual(['COOKIE_KEYS: key 2 must be 16 bytes in base64 (AES-128), got 0']);
      expect(problemsOf({ COOKIE_KEYS: `${KEY_A.slice(0, 10)}!!${KEY_A.slice(10)}` })).toEqual([
        'COOKIE_KEYS: key 1 is not base64 (make one with: openssl rand -base64 16)',
      ]);
    });

    it('when ADMIN_USER comes without ADMIN_PASSWORD, or the other way round, then it is refused', () => {
      expect(problemsOf({ ADMIN_USER: 'root' })).toEqual(['ADMIN_USER and ADMIN_PASSWORD: set both or neither']);
      expect(problemsOf({ ADMIN_PASSWORD: 'long enough' })).toEqual(['ADMIN_USER and ADMIN_PASSWORD: set both or neither']);
    });

    it('when ADMIN_PASSWORD is shorter than 8 characters, then it is refused', () => {
      expect(problemsOf({ ADMIN_USER: 'root', ADMIN_PASSWORD: 'short' })).toEqual(['ADMIN_PASSWORD: at least 8 characters']);
    });

    it('when ADMIN_USER and ADMIN_PASSWORD are both set, then that admin replaces the demo admin', () => {
      const c = loadConfig({ ADMIN_USER: 'root', ADMIN_PASSWORD: 'long enough' });

      expect(c.admin).toEqual({ userName: 'root', password: 'long enough' });
    });
  });

  describe('TRUST_PROXY', () => {
    it.each([
      ['true', true],
      ['false', false],
      ['0', 0],
      ['1', 1],
      ['2', 2],
    ])('when TRUST_PROXY is %p, then trustProxy is %p', (raw, expected) => {
      expect(loadConfig({ TRUST_PROXY: raw }).trustProxy).toBe(expected);
    });

    it.each(['yes', 'TRUE', '-1', '1.5', 'loopback'])('when TRUST_PROXY is %p, then it is refused', (raw) => {
      expect(problemsOf({ TRUST_PROXY: raw })).toEqual(['TRUST_PROXY: must be false, true or a number of hops']);
    });

    it('when a setting is empty (PORT=, TRUST_PROXY=), then its default applies', () => {
      const config = loadConfig({ PORT: '', TRUST_PROXY: '' });
      expect([config.port, config.trustProxy]).toEqual([3000, false]);
    });
  });

  describe('DATABASE_URL', () => {
    it('when DATABASE_URL is sqlite:<path>, then SQLite opens that path', () => {
      expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/shop/db.sqlite' }).database).toEqual({ kind: 'sqlite', path: '/var/lib/shop/db.sqlite' });
      expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).database).toEqual({ kind: 'sqlite', path: ':memory:' });
    });

    it('when DATABASE_URL is mysql://..., then MySQL is used with that URL and demo mode is off', () => {
      const url = 'mysql://shop:secret@127.0.0.1:3306/shop';

      const c = loadConfig({ DATABASE_URL: url });

      expect(c.database).toEqual({ kind: 'mysql', url });
      expect(c).toMatchObject({ demo: false, admin: null });
    });

    it.each(['postgres://db/shop', 'sqlite:', 'mysql://', 'shop.sqlite', 'MYSQL://u@h/db'])('when DATABASE_URL is %p, then it is refused', (raw) => {
      expect(problemsOf({ DATABASE_URL: raw })).toEqual(['DATABASE_URL: must be mysql://user:pass@host:port/db or sqlite:path']);
    });
  });

  describe('REHEARSAL_REQUESTS', () => {
    const key = Buffer.alloc(16, 1).toString('base64');

    it('when unset, then production rehearses 10,000 requests before opening and other modes none', () => {
      expect(loadConfig({ NODE_ENV: 'production', COOKIE_KEYS: key }).purchase.rehearsalRequests).toBe(10_000);
      expect(loadConfig({}).purchase.rehearsalRequests).toBe(0);
      expect(loadConfig({ NODE_ENV: 'test' }).purchase.rehearsalRequests).toBe(0);
    });

    it('when set, then it is used in any mode, 0 turning it off', () => {
      expect(loadConfig({ NODE_ENV: 'production', COOKIE_KEYS: key, REHEARSAL_REQUESTS: '0' }).purchase.rehearsalRequests).toBe(0);
      expect(loadConfig({ REHEARSAL_REQUESTS: '300' }).purchase.rehearsalRequests).toBe(300);
    });

    it('when it is negative, too large or not a number, then it is refused', () => {
      for (const bad of ['-1', '100001', 'many']) expect(problemsOf({ REHEARSAL_REQUESTS: bad })[0]).toMatch(/^REHEARSAL_REQUESTS: /);
    });
  });

  describe('ORDER_WRITER', () => {
    const mysql = 'mysql://shop@127.0.0.1:3306/shop';
    const amqp = 'amqp://guest:guest@127.0.0.1:5672';

    it('when RabbitMQ and MySQL are both set, then orders are written by a worker thread unless told inline', () => {
      expect(loadConfig({ DATABASE_URL: mysql, AMQP_URL: amqp }).orderWriter).toBe('thread');
      expect(loadConfig({ DATABASE_URL: mysql, AMQP_URL: amqp, ORDER_WRITER: 'inline' }).orderWriter).toBe('inline');
    });

    it('when either is embedded, then orders are written inline', () => {
      expect(loadConfig({}).orderWriter).toBe('inline');
      expect(loadConfig({ DATABASE_URL: mysql }).orderWriter).toBe('inline');
      expect(loadConfig({ AMQP_URL: amqp }).orderWriter).toBe('inline');
    });

    it('when thread is asked for without both, or the value is unknown, then it is refused', () => {
      expect(problemsOf({ AMQP_URL: amqp, ORDER_WRITER: 'thread' })).toEqual([
        'ORDER_WRITER: thread needs AMQP_URL and a mysql:// DATABASE_URL (use inline otherwise)',
      ]);
      expect(problemsOf({ ORDER_WRITER: 'threads' })[0]).toMatch(/^ORDER_WRITER: /);
    });
  });

  describe('INSTANCE_ID', () => {
    const shared = { DATABASE_URL: 'mysql://root@127.0.0.1:3306/shop', AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672', COOKIE_KEYS: Buffer.alloc(16, 1).toString('base64') };

    it('when unset, then one process holds the whole stock', () => {
      expect(loadConfig(shared).cluster).toBeNull();
    });

    it('when set with both shared back-ends and keys, then the instance joins with the lease lifetime', () => {
      expect(loadConfig({ ...shared, INSTANCE_ID: 'app-1' }).cluster).toEqual({ instanceId: 'app-1', leaseTtlMs: 5000 });
      expect(loadConfig({ ...shared, INSTANCE_ID: 'app-1', LEASE_TTL_MS: '2000' }).cluster?.leaseTtlMs).toBe(2000);
      expect(loadConfig({ ...shared, INSTANCE_ID: 'app-1' }).metrics.instance).toBe('app-1');
    });

    it('when a shared back-end or the keys are missing, or the values are wrong, then each is refused with the reason', () => {
      expect(problemsOf({ INSTANCE_ID: 'app-1' })).toEqual([
        'INSTANCE_ID: several instances need AMQP_URL and a mysql:// DATABASE_URL',
        'INSTANCE_ID: several instances need the same COOKIE_KEYS',
      ]);
      expect(problemsOf({ ...shared, INSTANCE_ID: 'app 1' })[0]).toMatch(/^INSTANCE_ID: /);
      expect(problemsOf({ ...shared, INSTANCE_ID: 'app-1', LEASE_TTL_MS: '500' })[0]).toMatch(/^LEASE_TTL_MS: /);
    });
  });

  describe('WRITER_HOLD_MS', () => {
    it('when unset, then the writer holds back at most a second per peak; 0 turns the hold off', () => {
      expect(loadConfig({}).writerHoldMs).toBe(1000);
      expect(loadConfig({ WRITER_HOLD_MS: '0' }).writerHoldMs).toBe(0);
      expect(loadConfig({ WRITER_HOLD_MS: '250' }).writerHoldMs).toBe(250);
    });

    it('when it is negative, above 10 s or not a number, then it is refused', () => {
      for (const bad of ['-1', '10001', 'soon']) expect(problemsOf({ WRITER_HOLD_MS: bad })[0]).toMatch(/^WRITER_HOLD_MS: /);
    });
  });

  describe('regressions', () => {
    it('when production lacks COOKIE_KEYS and another setting is wrong, then both problems are listed', () => {
      const problems = problemsOf({ NODE_ENV: 'production', PORT: 'abc' });

      expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['COOKIE_KEYS', 'PORT']);
    });

    it('when production runs on SQLite without ADMIN_USER, then no demo admin with a public password is created', () => {
      const c = loadConfig({ NODE_ENV: 'production', COOKIE_KEYS: KEY_A });

      expect(c.admin).toBeNull();
    });
  });
});
