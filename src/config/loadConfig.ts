// The one schema for every setting: read once at start, every problem reported together.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';

export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'mysql'; url: string };

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  database: DatabaseConfig;
  amqpUrl: string | null;
  queueName: string;
  /** Where queued orders are written: a worker thread (RabbitMQ + MySQL only) or the request thread. */
  orderWriter: 'thread' | 'inline';
  /** The longest the order writer holds back while orders pour in (WriterHold); 0: it never does. */
  writerHoldMs: number;
  cookieKeys: Buffer[];
  cookieKeysGenerated: boolean;
  /** Where the development key is kept (keepDevelopmentKey), when it is. */
  cookieKeyFile: string | null;
  sessionTtlMs: number;
  /** The shop's cookies: Secure (the shop is served over https) and their names (`__Host-` when Secure). */
  cookies: CookieSettings;
  /** Strict-Transport-Security max-age in seconds, sent in production; 0: not sent. */
  hstsMaxAge: number;
  /** Login limits: failures per address, per account and address, and per account before a challenge. */
  login: { windowMs: number; ipFails: number; accountIpFails: number; challengeAfter: number };
  /** Proof-of-work: the solver's expected work is half this many SHA-256 hashes. */
  powCost: number;
  /** Automatic blacklist: refusals within a window that block a shopper (or an address) for a while; 0 turns a rule off. */
  abuse: AbuseRules;
  trustProxy: boolean | number;
  admin: { userName: string; password: string } | null;
  logLevel: string;
  demo: boolean;
  purchase: {
    bucketPerSecond: number;
    bucketCapacity: number;
    userIntervalMs: number;
    ipLimit: number;
    ipWindowMs: number;
    lagThresholdMs: number;
    /** Requests of the rehearsal run on a scratch copy of the purchase path before the sales open; 0: none. */
    rehearsalRequests: number;
  };
  pages: { bucketPerSecond: number; bucketCapacity: number };
  captcha: {
    /** Ready captchas kept in memory, topped up in the background: size it to the crowd of an opening. */
    poolSize: number;
    /** Worker threads that render captchas. */
    threads: number;
    /** Serve captchas from this file instead of rendering them (load tests only; refused in production). */
    poolFile: string | null;
    /** The wait of the check without a picture (for people who cannot see it). */
    waitMs: number;
    /** How long before an opening the challenge is handed out sealed (CHALLENGE_SEAL_SECONDS, in ms). */
    sealLeadMs: number;
  };
  metrics: {
    /** Who may read GET /metrics without the token: loopback addresses only, anyone, or nobody. */
    access: 'loopback' | 'open' | 'off';
    /** A bearer token that opens GET /metrics from any address (unless access is off); null: none. */
    token: string | null;
    /** The `instance` label on every series, so that several instances can be told apart. */
    instance: string;
  };
  /** Several instances share the stock (docs/CLUSTER.md); null: one process, the whole stock in memory. */
  cluster: ClusterSettings | null;
}

export interface ClusterSettings {
  /** This instance's name, unique among those that share the database and the broker. */
  instanceId: string;
  /** How long a stock lease lives without a renewal; an instance that cannot renew stops selling before. */
  leaseTtlMs: number;
}

export interface CookieSettings {
  secure: boolean;
  session: string;
  csrf: string;
}

export interface AbuseRules {
  windowMs: number;
  blockMs: number;
  /** Per shopper: wrong captcha answers, TOO_FAST refusals. */
  captchaWrong: number;
  tooFast: number;
  /** Per address, summed over its shoppers. */
  ipCaptchaWrong: number;
  ipTooFast: number;
}

/**
 * The cookies' names: with Secure, the `__Host-` prefix, which browsers accept only from a secure page,
 * for the whole site and for this host alone, so that no sibling subdomain or plain-http page can plant one.
 */
export function cookieSettings(secure: boolean): CookieSettings {
  return secure ? { secure, session: '__Host-sid', csrf: '__Host-csrf' } : { secure, session: 'sid', csrf: 'csrf' };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** The demo shop's admin when none is configured; never used outside demo mode. */
export const DEMO_ADMIN = Object.freeze({ userName: 'admin', password: 'flashsale' });

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(3000).pipe(z.number().max(65535)),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .default('sqlite:data/flash-sale.sqlite')
    .refine((v) => /^sqlite:.+/.test(v) || /^mysql:\/\/.+/.test(v), {
      message: 'must be mysql://user:pass@host:port/db or sqlite:path',
    }),
  AMQP_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === '' || /^amqps?:\/\/.+/.test(v), { message: 'must be amqp://...' }),
  QUEUE_NAME: z.string().regex(/^[\w.-]+$/, 'letters, digits, dot, dash and underscore only').default('flash-sale.orders'),
  ORDER_WRITER: z.enum(['thread', 'inline']).optional(),
  WRITER_HOLD_MS: int(1000).pipe(z.number().max(10_000)),
  COOKIE_KEYS: z.string().optional(),
  SESSION_TTL_HOURS: int(24, 1),
  COOKIE_SECURE: z.enum(['true', 'false']).optional(),
  HSTS_MAX_AGE: int(31_536_000).pipe(z.number().max(63_072_000)),
  LOGIN_WINDOW_MS: int(600_000, 1000),
  LOGIN_IP_FAILS: int(30, 1),
  LOGIN_ACCOUNT_IP_FAILS: int(10, 1),
  LOGIN_CHALLENGE_AFTER: int(20, 1),
  POW_COST: int(50_000, 1).pipe(z.number().max(10_000_000)),
  ABUSE_WINDOW_MS: int(60_000, 1000),
  ABUSE_BLOCK_MINUTES: int(60, 1),
  ABUSE_CAPTCHA_WRONG: int(10),
  ABUSE_TOO_FAST: int(20),
  ABUSE_IP_CAPTCHA_WRONG: int(0),
  ABUSE_IP_TOO_FAST: int(0),
  TRUST_PROXY: z
    .string()
    .default('false')
    .refine((v) => /^(true|false|\d+)$/.test(v), { message: 'must be false, true or a number of hops' }),
  ADMIN_USER: z.string().optional(),
  ADMIN_PASSWORD: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DEMO: z.enum(['true', 'false']).optional(),
  PURCHASE_BUCKET_PER_SECOND: int(1000, 1),
  PURCHASE_BUCKET_CAPACITY: int(1000, 1),
  PAGE_BUCKET_PER_SECOND: int(1000, 1),
  PAGE_BUCKET_CAPACITY: int(10000, 1),
  USER_INTERVAL_MS: int(10000),
  IP_LIMIT: int(600, 1),
  IP_WINDOW_MS: int(60000, 1),
  LAG_THRESHOLD_MS: int(200, 1),
  REHEARSAL_REQUESTS: z.coerce.number().int().min(0).max(100_000).optional(),
  CAPTCHA_POOL_SIZE: int(5000, 1).pipe(z.number().max(500_000)),
  CAPTCHA_THREADS: int(1, 1).pipe(z.number().max(16)),
  CAPTCHA_POOL_FILE: z.string().optional(),
  CAPTCHA_WAIT_MS: int(8000, 2000).pipe(z.number().max(120_000)),
  CHALLENGE_SEAL_SECONDS: int(60).pipe(z.number().max(3600)),
  METRICS: z.enum(['loopback', 'open', 'off']).default('loopback'),
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters (openssl rand -hex 16)').regex(/^[\x21-\x7e]+$/, 'printable characters, no spaces').optional(),
  INSTANCE_ID: z.string().regex(/^[\w.-]{1,64}$/, '1-64 letters, digits, dot, dash or underscore').optional(),
  LEASE_TTL_MS: int(5000, 1000).pipe(z.number().max(60_000)),
  METRICS_INSTANCE: z.string().max(128).regex(/^[\w.:@-]+$/, 'letters, digits and . : @ - _ only').optional(),
});

function parseCookieKeys(raw: string | undefined, problems: string[]): Buffer[] {
  if (!raw) return [];
  return raw.split(',').map((part, i) => {
    const text = part.trim();
    // Buffer.from skips characters outside the alphabet, so check the text itself first.
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      problems.push(`COOKIE_KEYS: key ${i + 1} is not base64 (make one with: openssl rand -base64 16)`);
      return Buffer.alloc(16);
    }
    const key = Buffer.from(text, 'base64');
    if (key.length !== 16) problems.push(`COOKIE_KEYS: key ${i + 1} must be 16 bytes in base64 (AES-128), got ${key.length}`);
    return key;
  });
}

/** Pure: the same environment always gives the same config, except a generated development key. */
export function loadConfig(rawEnv: NodeJS.ProcessEnv): Config {
  // An empty value (PORT=) means "use the default", as if the key were not set.
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== '')) as NodeJS.ProcessEnv;
  const parsed = schema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  const cookieKeys = parseCookieKeys(env.COOKIE_KEYS, problems);
  const e = parsed.success ? parsed.data : undefined;
  if (env.NODE_ENV === 'production' && cookieKeys.length === 0) {
    problems.push('COOKIE_KEYS: required in production (generate one with: openssl rand -base64 16)');
  }
  if (!!env.ADMIN_USER !== !!env.ADMIN_PASSWORD) {
    problems.push('ADMIN_USER and ADMIN_PASSWORD: set both or neither');
  }
  if (env.ADMIN_PASSWORD !== undefined && env.ADMIN_PASSWORD.length > 0 && env.ADMIN_PASSWORD.length < 8) {
    problems.push('ADMIN_PASSWORD: at least 8 characters');
  }
  // The writer thread consumes from the broker itself and opens its own database pool: both must be shared.
  const threadable = !!env.AMQP_URL && /^mysql:/.test(env.DATABASE_URL ?? '');
  if (env.ORDER_WRITER === 'thread' && !threadable) {
    problems.push('ORDER_WRITER: thread needs AMQP_URL and a mysql:// DATABASE_URL (use inline otherwise)');
  }
  // Instances share the stock through the database and talk over the broker; one key opens every cookie.
  if (env.INSTANCE_ID && !threadable) problems.push('INSTANCE_ID: several instances need AMQP_URL and a mysql:// DATABASE_URL');
  if (env.INSTANCE_ID && cookieKeys.length === 0) problems.push('INSTANCE_ID: several instances need the same COOKIE_KEYS');
  if (env.CAPTCHA_POOL_FILE && env.NODE_ENV !== 'test') {
    problems.push('CAPTCHA_POOL_FILE: load tests only, with NODE_ENV=test (it tells the answers to whoever wrote it)');
  }
  if (problems.length > 0 || !e) throw new ConfigError(problems);

  const database: DatabaseConfig = e.DATABASE_URL.startsWith('sqlite:')
    ? { kind: 'sqlite', path: e.DATABASE_URL.slice('sqlite:'.length) }
    : { kind: 'mysql', url: e.DATABASE_URL };
  // Demo data (and its well-known admin password) only ever in development.
  const demo = e.NODE_ENV === 'development' && (e.DEMO ? e.DEMO === 'true' : database.kind === 'sqlite');
  const trustProxy = e.TRUST_PROXY === 'true' ? true : e.TRUST_PROXY === 'false' ? false : Number(e.TRUST_PROXY);

  return Object.freeze({
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    database,
    amqpUrl: e.AMQP_URL ? e.AMQP_URL : null,
    queueName: e.QUEUE_NAME,
    orderWriter: e.ORDER_WRITER ?? (threadable ? 'thread' : 'inline'),
    writerHoldMs: e.WRITER_HOLD_MS,
    cookieKeys: cookieKeys.length > 0 ? cookieKeys : [randomBytes(16)],
    cookieKeysGenerated: cookieKeys.length === 0,
    cookieKeyFile: null,
    sessionTtlMs: e.SESSION_TTL_HOURS * 3600_000,
    // Production runs behind TLS: its cookies never travel in the clear unless turned off on purpose.
    cookies: Object.freeze(cookieSettings(e.COOKIE_SECURE ? e.COOKIE_SECURE === 'true' : e.NODE_ENV === 'production')),
    hstsMaxAge: e.NODE_ENV === 'production' ? e.HSTS_MAX_AGE : 0,
    login: Object.freeze({
      windowMs: e.LOGIN_WINDOW_MS,
      ipFails: e.LOGIN_IP_FAILS,
      accountIpFails: e.LOGIN_ACCOUNT_IP_FAILS,
      challengeAfter: e.LOGIN_CHALLENGE_AFTER,
    }),
    powCost: e.POW_COST,
    abuse: Object.freeze({
      windowMs: e.ABUSE_WINDOW_MS,
      blockMs: e.ABUSE_BLOCK_MINUTES * 60_000,
      captchaWrong: e.ABUSE_CAPTCHA_WRONG,
      tooFast: e.ABUSE_TOO_FAST,
      ipCaptchaWrong: e.ABUSE_IP_CAPTCHA_WRONG,
      ipTooFast: e.ABUSE_IP_TOO_FAST,
    }),
    trustProxy,
    admin:
      e.ADMIN_USER && e.ADMIN_PASSWORD
        ? { userName: e.ADMIN_USER, password: e.ADMIN_PASSWORD }
        : demo
          ? DEMO_ADMIN
          : null,
    logLevel: e.NODE_ENV === 'test' && !env.LOG_LEVEL ? 'silent' : e.LOG_LEVEL,
    demo,
    purchase: Object.freeze({
      bucketPerSecond: e.PURCHASE_BUCKET_PER_SECOND,
      bucketCapacity: e.PURCHASE_BUCKET_CAPACITY,
      userIntervalMs: e.USER_INTERVAL_MS,
      ipLimit: e.IP_LIMIT,
      ipWindowMs: e.IP_WINDOW_MS,
      lagThresholdMs: e.LAG_THRESHOLD_MS,
      // On by default where the first sale's speed matters; tests and development start without the wait.
      rehearsalRequests: e.REHEARSAL_REQUESTS ?? (e.NODE_ENV === 'production' ? 10_000 : 0),
    }),
    pages: Object.freeze({ bucketPerSecond: e.PAGE_BUCKET_PER_SECOND, bucketCapacity: e.PAGE_BUCKET_CAPACITY }),
    metrics: Object.freeze({
      access: e.METRICS,
      token: e.METRICS_TOKEN ?? null,
      instance: e.METRICS_INSTANCE ?? e.INSTANCE_ID ?? `${hostname()}:${e.PORT}`,
    }),
    cluster: e.INSTANCE_ID ? Object.freeze({ instanceId: e.INSTANCE_ID, leaseTtlMs: e.LEASE_TTL_MS }) : null,
    captcha: Object.freeze({ poolSize: e.CAPTCHA_POOL_SIZE, threads: e.CAPTCHA_THREADS, poolFile: e.CAPTCHA_POOL_FILE ?? null, waitMs: e.CAPTCHA_WAIT_MS, sealLeadMs: e.CHALLENGE_SEAL_SECONDS * 1000 }),
  });
}
