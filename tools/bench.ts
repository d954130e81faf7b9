// `npm run bench`: a reproducible load test of the real purchase path, with a bare node:http baseline taken
// in the same run and the sale's invariants audited at the end. See docs/PERFORMANCE.md for the method.
//
//   npm run bench -- [--stock 10000] [--users 50000] [--connections 256] [--duration 15] [--threads 2]
//                    [--json <file>] [--report <file.html>] [--profile] [--keep] [--no-baseline] [--wait-quiet <s>] [--warmup <s>|auto]
//                    [--url http://127.0.0.1:<port> --sale <id>] [--journey [--think 2-6] [--captchas 2000] [--journey-sockets 2000] [--lobby S]]
//                    [--instances N]
//
// Uses DATABASE_URL and AMQP_URL like the app; with neither, an embedded SQLite file in a temp dir and the
// in-process queue. Exits 0 when the audit passes, 1 when it fails, 2 when the run itself failed; never on
// speed (the figures are compared against the targets in the report only).
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../ormconfig';
import { DatabaseConfig, loadConfig } from '../src/config/loadConfig';
import { RabbitOrderQueue } from '../src/queue/RabbitOrderQueue';
import { OrderRepository } from '../src/repositories/OrderRepository';
import { SaleRepository } from '../src/repositories/SaleRepository';
import { AuditReport, AuditService } from '../src/services/AuditService';
import { formatAudit } from '../src/cli/audit';
import { cpuBetween, CpuUse, markCpu, waitQuiet } from './lib/cpu';
import { ClusterFigures, measureCluster } from './bench/cluster';
import { parseThink, type JourneyOutcome, type JourneyPlan } from './bench/journey';
import { journeyFigures, JourneyFigures, JourneyInput, journeyReport, writeCaptchaPool } from './bench/journeyReport';
import { createSale, createShoppers, tokenMakers, writeShopperFiles } from './bench/prepare';
import { spawnApp, waitHealthy } from './lib/appProcess';
import { Child, freePort, sleep, startChild, waitFor } from './lib/processes';
import { formatSummary, summariseFile } from './bench/profile';
import { MetricsWatch, perSecond, SecondRow, writeHtmlReport } from './bench/report';
import { readIds, runWrk, WRK, WrkResult, WrkRun } from './bench/wrk';
import { removeBenchRun } from './lib/toolsData';
import { redactUrl } from '../src/lib/redactUrl';

const USAGE = `usage: npm run bench -- [--stock N] [--users N] [--connections N] [--duration S] [--threads N]
                        [--json FILE] [--report FILE.html] [--profile] [--keep] [--no-baseline] [--wait-quiet S] [--warmup S|auto]
                        [--url http://127.0.0.1:PORT --sale ID] [--journey [--think MIN-MAX] [--captchas N] [--journey-sockets N] [--lobby S]]
                        [--instances N]`;

/** What the report compares against (issue 5); informational only. */
export const TARGETS = { ratio: 0.5, p99Ms: 25, sellOutMs: 1000, drainMs: 2000 };

/** Guard settings the bench gives the app unless the environment sets them; see docs/PERFORMANCE.md. */
const GUARD_DEFAULTS: Record<string, string> = {
  // Every request comes from 127.0.0.1, so the per-IP limit (600 a minute by default) would refuse all but
  // the first 600: raised so that it is on but never binding.
  IP_LIMIT: '1000000000',
  IP_WINDOW_MS: '60000',
  // The app's default bucket caps the sale well below the rate the target asks for in the first second.
  // Raised above what node:http itself can serve on these machines (docs/PERFORMANCE.md), with room to
  // spare, so that it is on but never binding.
  PURCHASE_BUCKET_PER_SECOND: '100000',
  PURCHASE_BUCKET_CAPACITY: '10000',
  // The bench's shoppers retry after every refusal, as a script would, so the automatic blacklist would
  // block them all within a minute: raised so that its counting is on but never binding.
  ABUSE_TOO_FAST: '1000000000',
  ABUSE_CAPTCHA_WRONG: '1000000000',
};
/**
 * The journey's app also serves the sale state and order status through Express, behind the page bucket: raised
 * like the purchase bucket, since every shopper of the bench loads the page within seconds (a real crowd
 * arrives over minutes), so that it is on but never binding.
 */
const JOURNEY_GUARD_DEFAULTS: Record<string, string> = {
  PAGE_BUCKET_PER_SECOND: '100000',
  PAGE_BUCKET_CAPACITY: '10000',
};
/** Passed through to the journey's app when set in the bench's environment. */
const JOURNEY_PASS_THROUGH = ['CAPTCHA_POOL_SIZE', 'CAPTCHA_THREADS', 'CHALLENGE_SEAL_SECONDS'];
/** Passed through to the app when set in the bench's environment; the app's defaults otherwise. */
const PASS_THROUGH = ['USER_INTERVAL_MS', 'LAG_THRESHOLD_MS', 'SESSION_TTL_HOURS', 'TRUST_PROXY', 'ORDER_WRITER', 'WRITER_HOLD_MS', 'REHEARSAL_REQUESTS'];

export interface BenchOptions {
  stock: number;
  users: number;
  connections: number;
  threads: number;
  duration: number;
  timeout: number;
  tickets: number;
  json?: string;
  /** An HTML page with the per-second chart of accepted, refused and p99 (from the app's /metrics). */
  report?: string;
  url?: string;
  sale?: number;
  profile: boolean;
  keep: boolean;
  baseline: boolean;
  /** Wait up to this long before each measured phase for other processes to leave the CPU alone. */
  waitQuietS: number;
  /**
   * Seconds of "pre-sale" before the measured run: the same shoppers press Buy on a sale that has not opened
   * yet (NOT_STARTED), as shoppers' scripts do before a sale opens, so the measured sale meets a process
   * whose HTTP path is compiled and whose login-cookie cache knows its shoppers. 0 (the default) measures
   * a cold process whose every shopper is new to it.
   */
  warmupS: number;
  /** After the purchase-only run, a journey run on a sale of its own (see runJourneyPhase). */
  journey: boolean;
  thinkMinMs: number;
  thinkMaxMs: number;
  /** Distinct captchas in the pool file the journey's app serves. */
  captchas: number;
  /** The journey driver's keep-alive sockets: a crowd's browsers each have their own connection. */
  journeySockets: number;
  /** Seconds the shoppers spend on the page before the opening (--lobby); by default users / 1,000. */
  lobbyS: number;
  /** After the single process's run, the same crowd and stock on this many instances behind nginx; 0: none. */
  instances: number;
}

export interface BenchResult {
  rps: number;
  contestedRps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  accepted: number;
  refused: Record<string, number>;
  sellOutMs: number | null;
  drainMs: number | null;
  baselineRps: number | null;
  ratio: number | null;
  audit: { ok: boolean; failures: string[] };
  // Context for reading the figures above.
  requests: number;
  durationS: number;
  firstSoldOutMs: number | null;
  /** Cross-check: when GET /api/sales/:id (polled every 200 ms) first showed 0 left. */
  soldOutPolledMs: number | null;
  uncertain: number;
  socketErrors: WrkResult['errors'];
  baselineP99Ms: number | null;
  stock: number;
  shoppers: number;
  saleId: number;
  settings: Record<string, string | number | boolean>;
  /** Responses per 100 ms from the first request, for a throughput-over-time picture. */
  timeline: number[];
  /** With --report: accepted, refused and p99 (ms) per second, from the app's /metrics. */
  perSecond?: SecondRow[];
  /** Orders in the database over time: [ms since the first request, count]. */
  drainCurve: [number, number][];
  /** Average cores used during each measured phase, by the server, by wrk + the bench, by everything else. */
  cpu: { purchase: CpuUse; baseline: CpuUse | null };
  /**
   * Server CPU per response (µs), app and baseline, and their quotient: what the ratio would be if each server
   * had the same CPU to itself. Other processes on a shared machine move rps and the ratio a lot, this little.
   */
  cpuUsPerResponse: { app: number | null; baseline: number | null; ratio: number | null };
  profile?: string;
  /** The app's source the run measured: git commit, with '+dirty' when src/ had uncommitted changes. */
  commit: string;
  runDir: string;
  /** With --journey: the journey run's figures (its audit is part of `audit` too). */
  journey?: JourneyFigures;
  /** With --instances: the cluster run's figures (its audit is part of `audit` too). */
  cluster?: ClusterFigures;
}

function sourceVersion(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations', 'ormconfig.ts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      stock: { type: 'string', default: '10000' },
      users: { type: 'string', default: '50000' },
      connections: { type: 'string', default: '256' },
      threads: { type: 'string', default: '2' },
      duration: { type: 'string', default: '15' },
      timeout: { type: 'string', default: '2' },
      tickets: { type: 'string', default: '2' },
      json: { type: 'string' },
      report: { type: 'string' },
      url: { type: 'string' },
      sale: { type: 'string' },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'no-baseline': { type: 'boolean', default: false },
      'wait-quiet': { type: 'string', default: '0' },
      warmup: { type: 'string', default: 'auto' },
      journey: { type: 'boolean', default: false },
      think: { type: 'string', default: '2-6' },
      captchas: { type: 'string', default: '2000' },
      'journey-sockets': { type: 'string', default: '2000' },
      lobby: { type: 'string', default: 'auto' },
      instances: { type: 'string', default: '0' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) throw new UsageError('');
  const int = (name: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const users = int('users', values.users, 1, 2_000_000);
  let think: { minMs: number; maxMs: number };
  try {
    think = parseThink(values.think!);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const o: BenchOptions = {
    stock: int('stock', values.stock, 1, 10_000_000),
    users,
    connections: int('connections', values.connections, 1, 10_000),
    threads: int('threads', values.threads, 1, 64),
    duration: int('duration', values.duration, 1, 600),
    timeout: int('timeout', values.timeout, 1, 60),
    tickets: int('tickets', values.tickets, 1, 8),
    json: values.json,
    report: values.report,
    url: values.url,
    sale: values.sale === undefined ? undefined : int('sale', values.sale, 1, 2 ** 31 - 1),
    profile: values.profile!,
    keep: values.keep!,
    baseline: !values['no-baseline'],
    waitQuietS: int('wait-quiet', values['wait-quiet'], 0, 3600),
    // auto: long enough for every shopper to press Buy once before the sale, as holding a ticket implies.
    warmupS: values.warmup === 'auto' ? (values.url ? 0 : autoWarmupS(users)) : int('warmup', values.warmup, 0, 600),
    journey: values.journey!,
    thinkMinMs: think.minMs,
    thinkMaxMs: think.maxMs,
    captchas: int('captchas', values.captchas, 1, 100_000),
    journeySockets: int('journey-sockets', values['journey-sockets'], 1, 10_000),
    lobbyS: values.lobby === 'auto' ? journeyLobbyS(users) : int('lobby', values.lobby, 3, 600),
    instances: int('instances', values.instances, 0, 8),
  };
  if (o.connections < o.threads) throw new UsageError('--connections must be at least --threads');
  if (o.url !== undefined) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new UsageError('--url must be an http URL');
    }
    if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
      throw new UsageError('--url must be http on a loopback address (127.0.0.1, localhost or [::1]): the bench loads loopback only');
    }
    if (o.sale === undefined) throw new UsageError('--url needs --sale <id>: a running app only sells sales it loaded at start (see docs/PERFORMANCE.md)');
    if (o.profile) throw new UsageError('--profile needs the bench to start the app; it cannot be used with --url');
    if (o.warmupS > 0) throw new UsageError('--warmup needs the bench to start the app (its pre-sale must exist before the app starts)');
    if (o.journey) throw new UsageError('--journey needs the bench to start the app (it serves the bench\'s captcha file)');
    if (o.instances > 0) throw new UsageError('--instances needs the bench to start the instances');
    o.url = u.origin;
  } else if (o.sale !== undefined) throw new UsageError('--sale is only for --url; otherwise the bench creates its own sale');
  return o;
}

class UsageError extends Error {}

/**
 * The default pre-sale: a shopper who holds a ticket has already been through this process (the sale page,
 * the captcha, the ticket), so its login cookie has been opened and the purchase path has run. The length
 * allows for 5,000 presses a second, well below what the app answers before a sale opens, so that each
 * shopper gets one press with room to spare.
 */
function autoWarmupS(users: number): number {
  return Math.min(60, Math.max(2, Math.ceil(users / 5000)));
}

function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'tools', 'bench', 'purchase.lua'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the package root (package.json with tools/bench/purchase.lua)');
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** One run: its settings, and what it holds open for cleanUp to release whatever phase it ends in. */
interface Run {
  o: BenchOptions;
  env: NodeJS.ProcessEnv;
  say: (line: string) => void;
  root: string;
  runId: string;
  runDir: string;
  /** The embedded database's directory; null when DATABASE_URL names a database. */
  tmp: string | null;
  databaseUrl: string;
  amqpUrl: string | null;
  queueName: string;
  database: DatabaseConfig;
  keysRaw: string;
  cookieKeys: Buffer[];
  cookieName: string;
  guards: Record<string, string>;
  ds: DataSource | null;
  app: Child | null;
  monitor: Monitor | null;
  /** How long the purchase run's app took from its start to open sales: the journey's sale opens after it. */
  appStartMs: number | null;
  /** The journey's app gets a queue of its own, dropped with the purchase run's. */
  journeyQueueName: string;
  /** The run's rows leave the database only after an audit that passed: a failed one is evidence. */
  auditPassed: boolean;
}

/** The sale to measure and its shoppers, ready for wrk; the pre-sale's shoppers when there is one. */
interface Prepared {
  sales: SaleRepository;
  orders: OrderRepository;
  saleId: number;
  stockAtStart: number;
  ordersBefore: number;
  /** Every wrk run of the bench uses these; each adds its URL, directory and name. */
  wrkRun: Omit<WrkRun, 'url' | 'dir' | 'name'>;
  warmup: { saleId: number; dataFile: string } | null;
  /** Each shopper's id and login cookie, shopper i at i (the journey and cluster runs' shoppers are the same). */
  userIds: number[];
  cookies: string[];
  /** How long the cookies stay valid from their issue. */
  validMs: number;
}

interface Measured {
  run: WrkResult;
  cpu: CpuUse;
  acceptedIds: string[];
  uncertainIds: string[];
  /** With --report: the app's /metrics, read once a second during the run. */
  perSecond: SecondRow[] | null;
}

/** Runs the bench; returns the process exit code. */
export async function bench(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const o = checkOptions(argv, env, out);
  if (typeof o === 'number') return o;
  const run = planRun(o, env, (line) => out.write(`${line}\n`));
  const watchdog = startWatchdog(run);
  try {
    announce(run);
    const ds = await openDatabase(run);
    const p = await prepare(run, ds);
    const baseline = o.baseline ? await measureBaseline(run, p) : null;
    const { baseUrl, profileDir } = o.url ? { baseUrl: o.url, profileDir: null } : await startShop(run);
    const watch = await watchSale(run, p, baseUrl);
    const preSaleDone = p.warmup ? await preSale(run, p, p.warmup, baseUrl) : null;
    const purchase = await measurePurchase(run, p, watch, baseUrl);
    await drain(run, p.ordersBefore, watch, purchase.acceptedIds.length);
    const profile = await stopShop(run, profileDir);
    const audit = await new AuditService(p.sales, p.orders).audit({ saleId: p.saleId, accepted: purchase.acceptedIds, uncertain: purchase.uncertainIds });
    const cluster = o.instances > 0 ? await runClusterPhase(run, p, purchase) : null;
    const journey = o.journey ? await runJourneyPhase(run, p) : null;
    return writeReport(run, p, { baseline, preSale: preSaleDone, purchase, watch, audit, profile, journey, cluster });
  } catch (e) {
    run.say(`bench: ${(e as Error).message}`);
    if (run.app) run.say(`  app log: ${path.join(run.runDir, 'app.log')}`);
    return 2;
  } finally {
    clearTimeout(watchdog);
    await cleanUp(run);
  }
}

/** The options, or the exit code when they are wrong or the machine lacks what they need. */
function checkOptions(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): BenchOptions | number {
  const say = (line: string) => out.write(`${line}\n`);
  let o: BenchOptions;
  try {
    o = parseOptions(argv);
  } catch (e) {
    out.write(`${(e as Error).message ? `${(e as Error).message}\n` : ''}${USAGE}\n`);
    return 2;
  }
  if (!existsSync(WRK)) {
    say(`bench: ${WRK} not found (apt-get install -y wrk)`);
    return 2;
  }
  if (o.url && !env.COOKIE_KEYS) {
    say('bench: --url needs COOKIE_KEYS set to the running app\'s keys, to mint its cookies and tickets');
    return 2;
  }
  if (o.url && !env.DATABASE_URL) {
    say('bench: --url needs DATABASE_URL set to the running app\'s database, to create the shoppers and audit the sale');
    return 2;
  }
  return o;
}

/** Names the run and its results directory, and settles the database, queue, keys and guards it uses. */
function planRun(o: BenchOptions, env: NodeJS.ProcessEnv, say: (line: string) => void): Run {
  const root = packageRoot();
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
  const runDir = path.join(root, 'bench-results', runId);
  mkdirSync(runDir, { recursive: true });
  const tmp = env.DATABASE_URL ? null : mkdtempSync(path.join(tmpdir(), 'flash-sale-bench-'));
  const databaseUrl = env.DATABASE_URL || `sqlite:${path.join(tmp!, 'bench.sqlite')}`;
  const keysRaw = env.COOKIE_KEYS || randomBytes(16).toString('base64');
  const guards: Record<string, string> = {};
  for (const [k, v] of Object.entries(GUARD_DEFAULTS)) guards[k] = env[k] ?? v;
  for (const k of PASS_THROUGH) if (env[k] !== undefined) guards[k] = env[k]!;
  return {
    o,
    env,
    say,
    root,
    runId,
    runDir,
    tmp,
    databaseUrl,
    amqpUrl: env.AMQP_URL || null,
    queueName: `flash-sale.bench-${runId}`,
    database: loadConfig({ DATABASE_URL: databaseUrl, NODE_ENV: 'development' }).database,
    keysRaw,
    cookieKeys: loadConfig({ DATABASE_URL: databaseUrl, COOKIE_KEYS: keysRaw }).cookieKeys,
    // The app runs in production (startShop): its login cookie has the production name.
    cookieName: loadConfig({ NODE_ENV: 'production', COOKIE_KEYS: keysRaw }).cookies.session,
    guards,
    ds: null,
    app: null,
    monitor: null,
    appStartMs: null,
    journeyQueueName: `flash-sale.bench-${runId}-journey`,
    auditPassed: false,
  };
}

/** Everything after this is bounded: a stuck step ends the bench (and its children) instead of hanging CI. */
function startWatchdog({ o, say }: Run): NodeJS.Timeout {
  const watchdogMs = (o.duration * (o.baseline ? 2 : 1) + o.warmupS + 600 + (o.journey ? journeyBoundS(o) : 0)) * 1000;
  return setTimeout(() => {
    say(`bench: gave up after ${watchdogMs / 1000} s; child processes are stopped`);
    process.exit(2);
  }, watchdogMs);
}

function announce({ o, say, runId, runDir, database, databaseUrl, amqpUrl, queueName }: Run): void {
  const what = o.url ? `sale ${o.sale} of the app at ${o.url}` : `${fmt(o.stock)} stock`;
  say(`bench ${runId}: ${what}, ${fmt(o.users)} shoppers, wrk -t${o.threads} -c${o.connections} -d${o.duration}s`);
  say(`  database: ${database.kind === 'sqlite' ? `embedded SQLite ${database.path}` : redactUrl(databaseUrl)}`);
  say(`  queue:    ${amqpUrl ? `RabbitMQ ${redactUrl(amqpUrl)}, queue ${queueName}` : 'in-process (AMQP_URL not set)'}`);
  say(`  results:  ${runDir}`);
}

async function openDatabase(run: Run): Promise<DataSource> {
  const ds = createDataSource(run.database);
  run.ds = ds;
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  return ds;
}

/** Shoppers, the sale (unless --sale names one), and for each shopper a login cookie and tickets in wrk's files. */
async function prepare(run: Run, ds: DataSource): Promise<Prepared> {
  const { o, say, runId, runDir, cookieKeys } = run;
  const sales = new SaleRepository(ds);
  const orders = new OrderRepository(ds);
  const t = Date.now();
  const userIds = await createShoppers(ds, runId, o.users);
  // Cookies and tickets must outlive the baseline, the app's start and the run.
  const validMs = (o.duration * 2 + o.warmupS + 600 + (o.journey ? journeyBoundS(o) : 0)) * 1000;
  const saleId = o.sale ?? (await createSale(ds, runId, o.stock, validMs));
  const sale = await sales.findById(saleId);
  if (!sale) throw new Error(`sale ${saleId} is not in the database`);
  const ordersBefore = await orders.countBySale(saleId);
  const stockAtStart = sale.remaining;
  const { accounts, tickets } = tokenMakers(ds, cookieKeys, validMs);
  const issuedAt = Date.now();
  const cookies = userIds.map((id) => accounts.issueSession(id, issuedAt));
  const dataFile = path.join(runDir, 'shoppers.tsv');
  await writeShopperFiles(dataFile, o.threads, saleId, userIds, cookies, tickets, o.tickets);
  let warmup: Prepared['warmup'] = null;
  if (o.warmupS > 0) {
    // Opens long after the run: every attempt is NOT_STARTED, answered before the per-shopper interval
    // is taken, so the measured sale is not slowed by it.
    const warmSale = await createSale(ds, `${runId}-presale`, o.stock, validMs, validMs);
    warmup = { saleId: warmSale, dataFile: path.join(runDir, 'shoppers-presale.tsv') };
    await writeShopperFiles(warmup.dataFile, o.threads, warmSale, userIds, cookies, tickets, o.tickets);
  }
  say(`prepared sale ${saleId} (${fmt(stockAtStart)} left) and ${fmt(o.users)} shoppers with cookies and ${o.tickets} tickets each in ${fmt((Date.now() - t) / 1000, 1)} s`);

  const script = path.join(run.root, 'tools', 'bench', 'purchase.lua');
  const wrkRun = { threads: o.threads, connections: o.connections, durationS: o.duration, timeoutS: o.timeout, script, dataFile, tickets: o.tickets, cookieName: run.cookieName };
  return { sales, orders, saleId, stockAtStart, ordersBefore, wrkRun, warmup, userIds, cookies, validMs };
}

/** With --wait-quiet, waits for other processes to leave the CPU alone before a measured phase. */
async function quiet({ o, say }: Run, pid?: number): Promise<void> {
  if (o.waitQuietS <= 0) return;
  const other = await waitQuiet(o.waitQuietS * 1000, pid);
  if (other >= 0.15) say(`  other processes still use ${other.toFixed(2)} cores after waiting ${o.waitQuietS} s; measuring anyway`);
}

/** A bare node:http server under the same generator, script and requests, first, while nothing else runs. */
async function measureBaseline(run: Run, p: Prepared): Promise<{ run: WrkResult; cpu: CpuUse }> {
  const { o, say, runDir } = run;
  const helloDir = path.join(runDir, 'baseline');
  mkdirSync(path.join(helloDir, 'warm'), { recursive: true });
  const hello = startChild(process.execPath, [path.join(__dirname, 'bench', 'hello.js')], {
    logFile: path.join(runDir, 'baseline.log'),
    env: { PATH: run.env.PATH },
  });
  try {
    await waitFor('baseline server', async () => /^\d+\n/.test(hello.stdout()), 10_000, hello);
    const port = Number(hello.stdout().trim());
    await quiet(run, hello.proc.pid);
    say(`baseline: bare node:http hello world on 127.0.0.1:${port}, 2 s unmeasured then ${o.duration} s ...`);
    // A short unmeasured pass first: the baseline stands for what node:http serves, not how it starts.
    await runWrk({ ...p.wrkRun, durationS: 2, url: `http://127.0.0.1:${port}/`, dir: path.join(helloDir, 'warm'), name: 'baseline-warm' });
    const start = markCpu(hello.proc.pid);
    const baseline = await runWrk({ ...p.wrkRun, url: `http://127.0.0.1:${port}/`, dir: helloDir, name: 'baseline' });
    const cpu = cpuBetween(start, markCpu(hello.proc.pid));
    say(`baseline: ${fmt(baseline.requests / (baseline.durationUs / 1e6))} req/s, p99 ${fmt(baseline.latencyUs.p99 / 1000, 1)} ms; ${cpuLine(cpu)}`);
    return { run: baseline, cpu };
  } finally {
    await hello.stop(5000);
  }
}

/**
 * Starts the shop (dist/src/server.js) on a free port with the run's database, queue, keys and guards; the
 * journey's app with its own log, its settings over these, and no profiler.
 */
async function startShop(run: Run, journey?: { env: Record<string, string> }): Promise<{ baseUrl: string; profileDir: string | null }> {
  const { o, say, runDir, root } = run;
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const profileDir = o.profile ? path.join(runDir, journey ? 'profile-journey' : 'profile') : null;
  const startedAt = Date.now();
  const appEnv: NodeJS.ProcessEnv = { ...shopEnv(run), ...journey?.env };
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  say(`starting the app: node ${nodeArgs.join(' ')}${nodeArgs.length ? ' ' : ''}dist/src/server.js on ${baseUrl}`);
  const app = spawnApp({ root, port, env: appEnv, nodeArgs, logFile: path.join(runDir, journey ? 'app-journey.log' : 'app.log') });
  run.app = app.child;
  await waitHealthy(app, 'the app', 60_000);
  if (!journey) run.appStartMs = Date.now() - startedAt;
  return { baseUrl, profileDir };
}

/**
 * Checks that the sale is live, then starts the watchers: orders in the database (for drainMs), units left
 * in the app (for progress and a cross-check). They start before the pre-sale: their requests to the app's
 * pages are the page traffic a shop has all along, and starting them at the opening would make the opening
 * the first moment the app serves pages next to purchases (V8 then recompiles the HTTP code it had
 * specialised to purchases alone).
 */
async function watchSale(run: Run, p: Prepared, baseUrl: string): Promise<Monitor> {
  const state = await saleState(baseUrl, p.saleId);
  if (!state || state.phase !== 'live') {
    throw new Error(`sale ${p.saleId} is not live on ${baseUrl} (${state ? `phase ${state.phase}` : 'not found'})`);
  }
  const watch = new Monitor(p.orders, p.saleId, baseUrl, run.runDir, run.o.threads);
  run.monitor = watch;
  watch.start();
  return watch;
}

/** The unmeasured pre-sale: the same shoppers press Buy on a sale that has not opened; audited like the sale. */
async function preSale(run: Run, p: Prepared, warmup: NonNullable<Prepared['warmup']>, baseUrl: string): Promise<{ audit: AuditReport; presses: number }> {
  const { o, say, runDir } = run;
  const dir = path.join(runDir, 'warmup');
  mkdirSync(dir);
  say(`pre-sale: the same shoppers press Buy on sale ${warmup.saleId}, which has not opened, for ${o.warmupS} s (not measured) ...`);
  const pre = await runWrk({ ...p.wrkRun, dataFile: warmup.dataFile, durationS: o.warmupS, url: `${baseUrl}/`, dir, name: 'presale' });
  const codes: Record<string, number> = {};
  for (const th of pre.threads) for (const [c, n] of Object.entries(th.codes)) codes[c] = (codes[c] ?? 0) + n;
  const ids = readIds(dir, 'accepted', o.threads);
  const audit = await new AuditService(p.sales, p.orders).audit({ saleId: warmup.saleId, accepted: ids, uncertain: readIds(dir, 'uncertain', o.threads) });
  const presses = Object.values(codes).reduce((a, b) => a + b, 0);
  // wrk thread k cycles through every threads-th shopper: each thread must have gone round its share.
  const short = pre.threads.filter((th, k) => {
    const share = Math.floor(o.users / o.threads) + (k < o.users % o.threads ? 1 : 0);
    return Object.values(th.codes).reduce((a, b) => a + b, 0) < share;
  }).length;
  const reach = short === 0 ? 'every shopper pressed at least once' : `${short} wrk thread(s) did not reach all their shoppers: the run starts partly cold`;
  say(`pre-sale: ${Object.entries(codes).map(([c, n]) => `${c} ${fmt(n)}`).join(', ')}; ${reach}; audit ${audit.ok ? 'ok' : 'FAILED'}`);
  // A pause before the opening, as in a real sale; it also lets a profile tell the two phases apart.
  await sleep(1500);
  return { audit, presses };
}

/** The measured run: wrk on the purchase path with a progress line a second; keeps the ids it was given. */
async function measurePurchase(run: Run, p: Prepared, watch: Monitor, baseUrl: string): Promise<Measured> {
  const { o, say, runDir } = run;
  await quiet(run, run.app?.proc.pid);
  watch.startedAt = Date.now();
  const progress = setInterval(() => {
    const m = watch.latest();
    say(`  ${fmt((Date.now() - watch.startedAt) / 1000, 0).padStart(4)} s  accepted ${fmt(m.accepted).padStart(9)}  orders in db ${fmt(m.orders - p.ordersBefore).padStart(9)}  left ${m.left === null ? '?' : fmt(m.left)}`);
  }, 1000);
  say(`purchase: ${baseUrl}/api/sales/${p.saleId}/buy/<path>, ${o.duration} s ...`);
  let result: WrkResult;
  const cpuStart = markCpu(run.app?.proc.pid);
  // --report: the app's own counters, read once a second (a token when the running app asks for one).
  const metrics = o.report ? new MetricsWatch(`${baseUrl}/metrics`, run.env.METRICS_TOKEN ? { authorization: `Bearer ${run.env.METRICS_TOKEN}` } : {}) : null;
  metrics?.start(Date.now());
  try {
    result = await runWrk({ ...p.wrkRun, url: `${baseUrl}/`, dir: runDir, name: 'purchase' });
  } finally {
    clearInterval(progress);
    await metrics?.stop();
  }
  const cpu = cpuBetween(cpuStart, markCpu(run.app?.proc.pid));
  say(`purchase: done; ${cpuLine(cpu)}`);
  const acceptedIds = readIds(runDir, 'accepted', o.threads);
  const uncertainIds = readIds(runDir, 'uncertain', o.threads);
  writeFileSync(path.join(runDir, 'accepted.txt'), acceptedIds.map((id) => `${id}\n`).join(''));
  writeFileSync(path.join(runDir, 'uncertain.txt'), uncertainIds.map((id) => `${id}\n`).join(''));
  return { run: result, cpu, acceptedIds, uncertainIds, perSecond: metrics ? perSecond(metrics.scrapes) : null };
}

/** Waits (bounded) until every accepted request is an order row, then stops the watchers. */
async function drain({ say }: Run, ordersBefore: number, watch: Monitor, accepted: number): Promise<void> {
  const target = ordersBefore + accepted;
  const t = Date.now();
  while (watch.latest().orders < target && Date.now() - t < 60_000) await sleep(50);
  await watch.stop();
  if (watch.latest().orders < target) say(`  not drained: ${fmt(watch.latest().orders - ordersBefore)} of ${fmt(accepted)} accepted are orders after 60 s`);
}

/** Stops the app the bench started (SIGTERM) and summarises its CPU profile when --profile took one. */
async function stopShop(run: Run, profileDir: string | null): Promise<string | undefined> {
  const { say, runDir } = run;
  if (!run.app) return undefined;
  say('stopping the app (SIGTERM) ...');
  const code = await run.app.stop(20_000);
  if (code !== 0) say(`  the app exited with ${code}; see ${path.join(runDir, 'app.log')}`);
  run.app = null;
  if (!profileDir || !existsSync(profileDir)) return undefined;
  const file = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(profileDir, f))[0];
  if (!file) return undefined;
  const text = formatSummary(summariseFile(file), 20);
  writeFileSync(path.join(runDir, `${path.basename(profileDir)}.txt`), `${text}\n`);
  say(`cpu profile: ${file}\n${text}`);
  return file;
}

/** The app's environment in every phase: production, the run's database, queue, keys and guards. */
function shopEnv(run: Run): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: run.env.PATH,
    NODE_ENV: 'production',
    DATABASE_URL: run.databaseUrl,
    QUEUE_NAME: run.queueName,
    COOKIE_KEYS: run.keysRaw,
    LOG_LEVEL: 'warn',
    DEMO: 'false',
    ...run.guards,
  };
  if (run.amqpUrl) env.AMQP_URL = run.amqpUrl;
  return env;
}

/** The cluster phase (--instances): the same crowd and stock on N instances behind nginx (tools/bench/cluster.ts). */
async function runClusterPhase(run: Run, p: Prepared, single: Measured): Promise<{ figures: ClusterFigures; audit: AuditReport; saleId: number }> {
  const { o } = run;
  if (!run.amqpUrl || run.database.kind !== 'mysql' || !run.ds) throw new Error('--instances needs a mysql:// DATABASE_URL and AMQP_URL');
  return measureCluster({
    say: run.say,
    root: run.root,
    runDir: run.runDir,
    runId: run.runId,
    ds: run.ds,
    databaseUrl: run.databaseUrl,
    amqpUrl: run.amqpUrl,
    keysRaw: run.keysRaw,
    cookieKeys: run.cookieKeys,
    queueName: run.queueName,
    appEnv: shopEnv(run),
    instances: o.instances,
    stock: o.stock,
    userIds: p.userIds,
    cookies: p.cookies,
    validMs: p.validMs,
    warmupS: o.warmupS,
    wrkRun: p.wrkRun,
    single: { cpuUs: single.cpu.target * single.cpu.seconds * 1e6, accepted: single.acceptedIds.length, requests: single.run.requests },
  });
}

/**
 * Time on the sale page before the opening (the default of --lobby): every shopper loads the sale's state once, about 1,000 a second,
 * within what the Express route serves on a busy host, so that the page loads are over before the opening
 * (at 2,500 a second they were not, and spilled into it).
 */
function journeyLobbyS(users: number): number {
  return Math.min(120, Math.max(3, Math.ceil(users / 1000)));
}

/** The longest the journey phase may take: the app's start, the page, the thinking, the order polls, the drain. */
function journeyBoundS(o: BenchOptions): number {
  return 120 + o.lobbyS + Math.ceil(o.thinkMaxMs / 1000) + 180;
}

/** The app's resident memory in MB, from /proc; null when it cannot be read. */
function rssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

type JourneyMeasured = Omit<JourneyInput, 'purchaseOnly' | 'baselineRps'> & { report: AuditReport };

/**
 * The journey run (--journey), after the purchase-only run: a sale of its own that opens a few seconds after a
 * fresh app is up, served by that app from a captcha file whose answers the driver knows (NODE_ENV=test: the
 * app refuses the file in production), and every shopper driven through the page, the challenge, a think,
 * the answer-and-buy and the order's polls by tools/bench/journey.ts in a process of its own.
 */
async function runJourneyPhase(run: Run, p: Prepared): Promise<JourneyMeasured> {
  const { o, say, runDir, runId } = run;
  const dir = path.join(runDir, 'journey');
  mkdirSync(dir, { recursive: true });
  const poolFile = path.join(dir, 'captchas.jsonl');
  const shoppersFile = path.join(dir, 'shoppers.txt');
  const t = Date.now();
  writeCaptchaPool(poolFile, o.captchas);
  writeFileSync(shoppersFile, `${p.cookies.join('\n')}\n`);
  say(`journey: ${fmt(o.captchas)} captchas rendered for the app's CAPTCHA_POOL_FILE in ${fmt((Date.now() - t) / 1000, 1)} s`);

  // The app sells the sales it loads at its start, so the sale exists first and opens once the app is
  // expected up (the purchase run's start with room to spare) plus the time on the page.
  const lobbyS = o.lobbyS;
  const startsInMs = Math.round((run.appStartMs ?? 30_000) * 1.5) + 3000 + lobbyS * 1000;
  const saleId = await createSale(run.ds!, runId, o.stock, startsInMs + o.thinkMaxMs + journeyBoundS(o) * 1000, startsInMs);
  const startsAt = (await p.sales.findById(saleId))!.startsAt.getTime();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    CAPTCHA_POOL_FILE: poolFile,
    QUEUE_NAME: run.journeyQueueName,
    // What production would rehearse (the app rehearses by default only there).
    REHEARSAL_REQUESTS: run.guards.REHEARSAL_REQUESTS ?? '10000',
  };
  for (const [k, v] of Object.entries(JOURNEY_GUARD_DEFAULTS)) env[k] = run.env[k] ?? v;
  for (const k of JOURNEY_PASS_THROUGH) if (run.env[k] !== undefined) env[k] = run.env[k]!;
  say(`journey: sale ${saleId}, ${fmt(o.stock)} units, opens in ${fmt(startsInMs / 1000, 1)} s; a fresh app (${Object.entries(env).filter(([k]) => k !== 'CAPTCHA_POOL_FILE').map(([k, v]) => `${k}=${v}`).join(', ')})`);
  const { baseUrl, profileDir } = await startShop(run, { env });
  const readyAt = Date.now();
  if (startsAt - readyAt < 2000) say(`  WARNING: the app was up only ${fmt(startsAt - readyAt)} ms before the opening; shoppers had little time on the page`);
  const state = await saleState(baseUrl, saleId);
  if (!state) throw new Error(`journey sale ${saleId} is not served by ${baseUrl}`);

  const watch = new Monitor(p.orders, saleId, baseUrl, dir, 0);
  run.monitor = watch;
  watch.start();
  // Shoppers arrive over the last lobbyS seconds before the opening (the last one a second before it); an app
  // that came up sooner than allowed for waits idle until then, outside the measured CPU.
  const arriveUntil = Math.max(Date.now() + 200, startsAt - 1000);
  const arriveFrom = Math.max(Date.now() + 200, arriveUntil - lobbyS * 1000);
  await sleep(arriveFrom - Date.now() - 100);
  const appPid = run.app?.proc.pid;
  const rssBeforeMb = rssMb(appPid);
  const cpuStart = markCpu(appPid);
  const plan: JourneyPlan = {
    baseUrl,
    saleId,
    shoppersFile,
    poolFile,
    arriveFrom,
    arriveUntil,
    thinkMinMs: o.thinkMinMs,
    thinkMaxMs: o.thinkMaxMs,
    sealLeadMs: Number(env.CHALLENGE_SEAL_SECONDS ?? 60) * 1000,
    sockets: o.journeySockets,
    deadlineAt: startsAt + o.thinkMaxMs + 120_000,
    resultFile: path.join(dir, 'outcome.json'),
    cookieName: loadConfig(env).cookies.session,
  };
  const planFile = path.join(dir, 'plan.json');
  writeFileSync(planFile, `${JSON.stringify(plan, null, 2)}\n`);
  say(`journey: ${fmt(o.users)} shoppers on the page over ${fmt((plan.arriveUntil - plan.arriveFrom) / 1000, 1)} s, think ${o.thinkMinMs / 1000}-${o.thinkMaxMs / 1000} s, ${o.journeySockets} sockets ...`);
  const driver = startChild(process.execPath, [path.join(__dirname, 'bench', 'journey.js'), planFile], { logFile: path.join(dir, 'driver.log'), env: { PATH: run.env.PATH } });
  const progress = setInterval(() => {
    const out = driver.stdout();
    const at = out.lastIndexOf('progress ');
    const line = at < 0 ? null : out.slice(at + 9, out.indexOf('\n', at));
    let d: { pages: number; sealed: number; challenges: number; buys: number; accepted: number; done: number } | null = null;
    try {
      d = line ? JSON.parse(line) : null;
    } catch {
      d = null;
    }
    const since = (Date.now() - startsAt) / 1000;
    const m = watch.latest();
    say(`  ${since < 0 ? `opens in ${fmt(-since, 0)} s` : `${fmt(since, 0).padStart(4)} s`}  pages ${fmt(d?.pages ?? 0)}  sealed ${fmt(d?.sealed ?? 0)}  challenges ${fmt(d?.challenges ?? 0)}  buys ${fmt(d?.buys ?? 0)}  accepted ${fmt(d?.accepted ?? 0)}  done ${fmt(d?.done ?? 0)}  orders in db ${fmt(m.orders)}  left ${m.left === null ? '?' : fmt(m.left)}`);
  }, 1000);
  let code: number | string;
  try {
    // The driver stops itself at its deadline; this bound is for a driver that does not.
    const late = sleep(plan.deadlineAt - Date.now() + 30_000).then(() => 'late' as const);
    const first = await Promise.race([driver.exited, late]);
    code = first === 'late' ? await driver.stop(5000) : first;
  } finally {
    clearInterval(progress);
  }
  const cpu = cpuBetween(cpuStart, markCpu(appPid));
  const rssAfterMb = rssMb(appPid);
  if (code !== 0 || !existsSync(plan.resultFile)) throw new Error(`the journey driver exited with ${code}; see ${path.join(dir, 'driver.log')}`);
  const outcome = JSON.parse(readFileSync(plan.resultFile, 'utf8')) as JourneyOutcome;
  const accepted = outcome.accepted.map((a) => a.id);
  writeFileSync(path.join(dir, 'accepted.txt'), accepted.map((id) => `${id}\n`).join(''));
  writeFileSync(path.join(dir, 'uncertain.txt'), outcome.uncertain.map((id) => `${id}\n`).join(''));
  say(`journey: done; ${fmt(accepted.length)} accepted; waiting for their orders ...`);
  await drain(run, 0, watch, accepted.length);
  await stopShop(run, profileDir);
  const report = await new AuditService(p.sales, p.orders).audit({ saleId, accepted, uncertain: outcome.uncertain });
  return {
    outcome,
    stock: o.stock,
    saleId,
    thinkMinMs: o.thinkMinMs,
    thinkMaxMs: o.thinkMaxMs,
    lobbyMs: startsAt - arriveFrom,
    cpu,
    appPid,
    rssBeforeMb,
    rssAfterMb,
    drain: watch.samples,
    audit: { ok: report.ok, failures: report.failures },
    report,
  };
}

/** The figures, printed and written as JSON (result.json, and --json's file); the exit code from the audits. */
function writeReport(
  run: Run,
  p: Prepared,
  m: {
    baseline: { run: WrkResult; cpu: CpuUse } | null;
    preSale: { audit: AuditReport; presses: number } | null;
    purchase: Measured;
    watch: Monitor;
    audit: AuditReport;
    profile: string | undefined;
    journey: JourneyMeasured | null;
    cluster: { figures: ClusterFigures; audit: AuditReport; saleId: number } | null;
  },
): number {
  const { o, say, runDir, guards } = run;
  const presses = m.preSale?.presses ?? 0;
  const result = figures({
    o,
    run: m.purchase.run,
    baseline: m.baseline?.run ?? null,
    acceptedIds: m.purchase.acceptedIds,
    uncertainIds: m.purchase.uncertainIds,
    stockAtStart: p.stockAtStart,
    drain: m.watch.samples,
    ordersBefore: p.ordersBefore,
    audit: m.audit,
    saleId: p.saleId,
    settings: {
      database: run.database.kind,
      queue: run.amqpUrl ? 'rabbitmq (publisher confirms before each 202)' : 'in-process',
      connections: o.connections,
      threads: o.threads,
      duration: o.duration,
      ...(o.url ? { guards: 'as configured on the running app' } : { ...guards, USER_INTERVAL_MS: guards.USER_INTERVAL_MS ?? 'app default (10000)', REHEARSAL_REQUESTS: guards.REHEARSAL_REQUESTS ?? 'app default (10000 in production)' }),
      url: o.url ? o.url : 'started by the bench',
      warmup:
        o.warmupS > 0
          ? `${o.warmupS} s pre-sale: ${fmt(presses)} presses (NOT_STARTED) by ${fmt(o.users)} shoppers; --warmup 0 for a cold process`
          : 'none (cold process)',
    },
    runDir,
    profile: m.profile,
    cpu: { purchase: m.purchase.cpu, baseline: m.baseline?.cpu ?? null },
    soldOutPolledAt: m.watch.soldOutAt,
    commit: sourceVersion(run.root),
  });
  const warmupAudit = m.preSale?.audit ?? null;
  if (warmupAudit && !warmupAudit.ok) {
    result.audit.ok = false;
    result.audit.failures.push(...warmupAudit.failures.map((f) => `pre-sale ${warmupAudit.saleId}: ${f}`));
  }
  if (m.journey) {
    const { report: _report, ...measured } = m.journey;
    result.journey = journeyFigures({
      ...measured,
      purchaseOnly: { accepted: result.accepted, sellOutMs: result.sellOutMs, contestedRps: result.contestedRps, cpuUsPerResponse: result.cpuUsPerResponse.app },
      baselineRps: result.baselineRps,
    });
    if (!m.journey.audit.ok) {
      result.audit.ok = false;
      result.audit.failures.push(...m.journey.audit.failures.map((f) => `journey sale ${m.journey!.saleId}: ${f}`));
    }
  }
  if (m.cluster) {
    result.cluster = m.cluster.figures;
    if (!m.cluster.audit.ok) {
      result.audit.ok = false;
      result.audit.failures.push(...m.cluster.audit.failures.map((f) => `cluster sale ${m.cluster!.saleId}: ${f}`));
    }
  }
  say('');
  say(report(result, m.audit));
  if (m.cluster) say(`\ncluster of ${m.cluster.figures.instances}: ${JSON.stringify(m.cluster.figures)}\ncluster sale ${m.cluster.saleId}: ${formatAudit(m.cluster.audit)}`);
  if (warmupAudit && !warmupAudit.ok) say(`pre-sale: ${formatAudit(warmupAudit)}`);
  if (result.journey) say(`\n${journeyReport(result.journey)}\n\njourney sale ${m.journey!.saleId}: ${formatAudit(m.journey!.report)}`);
  if (m.purchase.perSecond) result.perSecond = m.purchase.perSecond;
  const json = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(path.join(runDir, 'result.json'), json);
  if (o.json) writeFileSync(o.json, json);
  if (o.report) {
    writeHtmlReport(o.report, `Bench ${result.commit}: ${fmt(result.stock)} units, ${fmt(result.shoppers)} shoppers`, reportFigures(result), result.perSecond ?? [], o.json ? path.relative(path.dirname(path.resolve(o.report)), path.resolve(o.json)) : null);
    say(`report: ${o.report}`);
  }
  run.auditPassed = result.audit.ok;
  return result.audit.ok ? 0 : 1;
}

/** Whatever phase the run ended in: stops its children, removes its rows, queue and files. */
async function cleanUp(run: Run): Promise<void> {
  const { o, say, runId, runDir, tmp, ds } = run;
  // Bounded: a watcher stuck on a database that stopped answering must not hold the exit.
  if (run.monitor) await Promise.race([run.monitor.stop(), sleep(5000)]);
  if (run.app) await run.app.stop(5000);
  // A database of the operator's keeps nothing of a run that passed its audit (the embedded one is
  // deleted whole below). Bounded, like the watchers: a database that stopped answering must not hold the exit.
  if (ds?.isInitialized && !tmp && !o.url && !o.keep) {
    if (run.auditPassed) {
      const removed = removeBenchRun(ds, runId).then(
        () => 'done',
        (e: Error) => say(`bench: could not remove the run's shoppers and sales: ${e.message}`),
      );
      if ((await Promise.race([removed, sleep(30_000).then(() => 'late')])) === 'late') say("bench: removing the run's rows took over 30 s; left as they are");
    } else say(`bench: the run's shoppers and sales stay in the database for inspection (names with ${runId})`);
  }
  if (ds?.isInitialized) await ds.destroy().catch(() => undefined);
  if (run.amqpUrl && !o.url) await dropQueues(run.amqpUrl, run.queueName).catch((e) => say(`bench: could not delete queue ${run.queueName}: ${(e as Error).message}`));
  if (run.amqpUrl && o.instances > 0) {
    await dropQueues(run.amqpUrl, `${run.queueName}-cluster`).catch((e) => say(`bench: could not delete queue ${run.queueName}-cluster: ${(e as Error).message}`));
  }
  if (run.amqpUrl && o.journey) {
    await dropQueues(run.amqpUrl, run.journeyQueueName).catch((e) => say(`bench: could not delete queue ${run.journeyQueueName}: ${(e as Error).message}`));
  }
  if (tmp && !o.keep) rmSync(tmp, { recursive: true, force: true });
  else if (tmp) say(`kept the embedded database: ${tmp}`);
  if (!o.keep) {
    for (const f of ['shoppers.tsv', 'shoppers-presale.tsv']) {
      for (let k = 1; k <= o.threads; k += 1) rmSync(path.join(runDir, `${f}.${k}`), { force: true });
    }
    for (const f of ['shoppers.txt', 'captchas.jsonl']) rmSync(path.join(runDir, 'journey', f), { force: true });
  }
}

async function dropQueues(url: string, queue: string): Promise<void> {
  const q = new RabbitOrderQueue({ url, queue }, pino({ level: 'silent' }));
  await q.connect();
  await q.destroy();
}

interface SaleState {
  phase: string;
  left: number;
}

async function saleState(baseUrl: string, saleId: number): Promise<SaleState | null> {
  const res = await fetch(`${baseUrl}/api/sales/${saleId}`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
  if (!res.ok) return null;
  return (await res.json()) as SaleState;
}

/** Samples orders in the database every 50 ms and the app's units left every 200 ms, while the run lasts. */
class Monitor {
  readonly samples: [number, number][] = [];
  soldOutAt: number | null = null;
  startedAt = Date.now();
  private left: number | null = null;
  private counted = 0;
  private lastId: number | null = null;
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly orders: OrderRepository,
    private readonly saleId: number,
    private readonly baseUrl: string,
    private readonly dir: string,
    private readonly threads: number,
  ) {}

  start(): void {
    this.startedAt = Date.now();
    this.loops.push(
      this.every(50, async () => {
        // Only rows above the last id seen are counted: the watcher's queries must not load the database
        // that is being measured. Orders get their ids as one writer commits batch after batch, so none
        // can appear below an id already seen; the audit counts everything at the end anyway.
        if (this.lastId === null) {
          const all = await this.orders.countBySaleAfter(this.saleId, 0);
          this.counted = all.count;
          this.lastId = all.lastId;
        } else {
          const fresh = await this.orders.countBySaleAfter(this.saleId, this.lastId);
          this.counted += fresh.count;
          this.lastId = fresh.lastId;
        }
        this.samples.push([Date.now(), this.counted]);
      }),
      this.every(200, async () => {
        const s = await saleState(this.baseUrl, this.saleId);
        if (!s) return;
        this.left = s.left;
        if (s.left <= 0 && this.soldOutAt === null) this.soldOutAt = Date.now();
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  latest(): { orders: number; left: number | null; accepted: number } {
    let accepted = 0;
    for (let t = 1; t <= this.threads; t += 1) {
      const file = path.join(this.dir, `accepted-${t}.txt`);
      // Each line is a 36-character UUID and a newline.
      if (existsSync(file)) accepted += Math.floor(statSync(file).size / 37);
    }
    return { orders: this.samples.at(-1)?.[1] ?? 0, left: this.left, accepted };
  }

  private async every(ms: number, f: () => Promise<void>): Promise<void> {
    while (!this.stopped) {
      const t = Date.now();
      await f().catch(() => undefined);
      await sleep(Math.max(0, ms - (Date.now() - t)));
    }
  }
}

interface FigureInput {
  o: BenchOptions;
  run: WrkResult;
  baseline: WrkResult | null;
  acceptedIds: string[];
  uncertainIds: string[];
  stockAtStart: number;
  drain: [number, number][];
  ordersBefore: number;
  audit: AuditReport;
  saleId: number;
  settings: Record<string, string | number | boolean>;
  runDir: string;
  profile?: string;
  cpu: BenchResult['cpu'];
  soldOutPolledAt: number | null;
  commit: string;
}

export function figures(f: FigureInput): BenchResult {
  const { run } = f;
  const durationS = run.durationUs / 1e6;
  const rps = run.requests / durationS;
  const starts = run.threads.map((t) => t.firstRequestAt).filter((x) => x > 0);
  const firstRequestAt = starts.length ? Math.min(...starts) : 0;
  const accepted = f.acceptedIds.length;
  const soldOut = accepted >= f.stockAtStart && accepted > 0;
  const sellOutAt = soldOut ? Math.max(...run.threads.map((t) => t.lastAcceptedAt)) : null;
  const firstSoldOuts = run.threads.map((t) => t.firstSoldOutAt).filter((x) => x > 0);
  const firstSoldOutAt = firstSoldOuts.length ? Math.min(...firstSoldOuts) : null;

  // Responses per 10 ms bucket, all threads together.
  const hist = new Map<number, number>();
  for (const t of run.threads) for (const [k, v] of Object.entries(t.hist)) hist.set(Number(k), (hist.get(Number(k)) ?? 0) + v);
  let contestedRps = rps;
  if (sellOutAt !== null && sellOutAt > firstRequestAt) {
    let n = 0;
    for (const [bucket, count] of hist) if (bucket * 10 <= sellOutAt) n += count;
    contestedRps = n / ((sellOutAt - firstRequestAt) / 1000);
  }
  const timeline: number[] = [];
  for (const [bucket, count] of hist) {
    const i = Math.floor((bucket * 10 - firstRequestAt) / 100);
    if (i < 0 || i > 100_000) continue;
    while (timeline.length <= i) timeline.push(0);
    timeline[i] += count;
  }

  const refused: Record<string, number> = {};
  for (const t of run.threads) {
    for (const [code, n] of Object.entries(t.codes)) if (code !== 'ACCEPTED') refused[code] = (refused[code] ?? 0) + n;
  }
  const target = f.ordersBefore + accepted;
  const drained = f.drain.find(([, n]) => n >= target);
  const drainMs = accepted > 0 && drained ? drained[0] - firstRequestAt : null;
  const baselineRps = f.baseline ? f.baseline.requests / (f.baseline.durationUs / 1e6) : null;
  const drainCurve: [number, number][] = [];
  let last = -1;
  for (const [at, n] of f.drain) {
    if (n === last) continue;
    last = n;
    drainCurve.push([Math.round(at - firstRequestAt), n - f.ordersBefore]);
  }
  return {
    rps: round(rps),
    contestedRps: round(contestedRps),
    p50Ms: round(run.latencyUs.p50 / 1000, 2),
    p90Ms: round(run.latencyUs.p90 / 1000, 2),
    p99Ms: round(run.latencyUs.p99 / 1000, 2),
    maxMs: round(run.latencyUs.max / 1000, 2),
    accepted,
    refused,
    sellOutMs: sellOutAt !== null ? Math.round(sellOutAt - firstRequestAt) : null,
    drainMs: drainMs === null ? null : Math.round(drainMs),
    baselineRps: baselineRps === null ? null : round(baselineRps),
    ratio: baselineRps ? round(rps / baselineRps, 3) : null,
    audit: { ok: f.audit.ok, failures: f.audit.failures },
    requests: run.requests,
    durationS: round(durationS, 2),
    firstSoldOutMs: firstSoldOutAt !== null ? Math.round(firstSoldOutAt - firstRequestAt) : null,
    soldOutPolledMs: f.soldOutPolledAt !== null ? Math.round(f.soldOutPolledAt - firstRequestAt) : null,
    uncertain: f.uncertainIds.length,
    socketErrors: run.errors,
    baselineP99Ms: f.baseline ? round(f.baseline.latencyUs.p99 / 1000, 2) : null,
    stock: f.stockAtStart,
    shoppers: f.o.users,
    saleId: f.saleId,
    settings: f.settings,
    timeline,
    drainCurve,
    cpu: f.cpu,
    cpuUsPerResponse: cpuPerResponse(f),
    profile: f.profile,
    commit: f.commit,
    runDir: f.runDir,
  };
}

/** The headline figures of the HTML report. */
function reportFigures(r: BenchResult): [string, string][] {
  return [
    ['requests/s (whole run)', fmt(r.rps)],
    ['baseline node:http requests/s', r.baselineRps === null ? 'n/a' : fmt(r.baselineRps)],
    ['ratio purchase / baseline', r.ratio === null ? 'n/a' : String(r.ratio)],
    ['server CPU per response, app / baseline (µs)', `${r.cpuUsPerResponse.app ?? 'n/a'} / ${r.cpuUsPerResponse.baseline ?? 'n/a'}`],
    ['latency p50 / p99 (wrk)', `${r.p50Ms} / ${r.p99Ms} ms`],
    ['accepted (202)', `${fmt(r.accepted)} of ${fmt(r.stock)}`],
    ['sold out after', r.sellOutMs === null ? 'n/a' : `${fmt(r.sellOutMs)} ms`],
    ['all accepted written after', r.drainMs === null ? 'n/a' : `${fmt(r.drainMs)} ms`],
    ['refused by code', Object.entries(r.refused).map(([c, n]) => `${c} ${fmt(n)}`).join(', ') || 'none'],
    ['audit', r.audit.ok ? 'ok' : `FAILED: ${r.audit.failures.join('; ')}`],
    ['settings', Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(', ')],
  ];
}

function cpuLine(c: CpuUse): string {
  return `server ${c.target.toFixed(2)}, wrk + bench ${c.generator.toFixed(2)}, RabbitMQ + MariaDB ${c.backends.toFixed(2)}, other processes ${c.other.toFixed(2)}, idle ${c.idle.toFixed(2)} of ${c.cores} cores`;
}

function cpuPerResponse(f: FigureInput): BenchResult['cpuUsPerResponse'] {
  const per = (c: CpuUse, r: WrkResult) => (c.target * c.seconds * 1e6) / Math.max(1, r.requests);
  // With --url the app is not our child: its CPU is not tracked (it shows under other processes).
  const app = f.o.url ? null : per(f.cpu.purchase, f.run);
  const baseline = f.baseline && f.cpu.baseline ? per(f.cpu.baseline, f.baseline) : null;
  return {
    app: app === null ? null : round(app),
    baseline: baseline === null ? null : round(baseline),
    ratio: baseline === null || app === null ? null : round(baseline / app, 3),
  };
}

function round(x: number, digits = 1): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

function report(r: BenchResult, audit: AuditReport): string {
  const mark = (ok: boolean | null) => (ok === null ? '  -  ' : ok ? ' met ' : ' MISS');
  const ms = (x: number | null) => (x === null ? 'n/a' : `${fmt(x)} ms`);
  const rows: [string, string, string, boolean | null][] = [
    ['requests/s, whole run', fmt(r.rps), '', null],
    ['requests/s, until sold out', fmt(r.contestedRps), '', null],
    ['baseline node:http req/s', r.baselineRps === null ? 'n/a' : fmt(r.baselineRps), '', null],
    ['ratio purchase / baseline', r.ratio === null ? 'n/a' : r.ratio.toFixed(3), `>= ${TARGETS.ratio}`, r.ratio === null ? null : r.ratio >= TARGETS.ratio],
    ['latency p50', `${r.p50Ms} ms`, '', null],
    ['latency p90', `${r.p90Ms} ms`, '', null],
    ['latency p99', `${r.p99Ms} ms`, `<= ${TARGETS.p99Ms} ms`, r.p99Ms <= TARGETS.p99Ms],
    ['latency max', `${r.maxMs} ms`, '', null],
    ['accepted (202)', `${fmt(r.accepted)} of ${fmt(r.stock)} stock`, '', null],
    ['sold out after', ms(r.sellOutMs), `<= ${fmt(TARGETS.sellOutMs)} ms`, r.sellOutMs === null ? false : r.sellOutMs <= TARGETS.sellOutMs],
    ['first SOLD_OUT after', ms(r.firstSoldOutMs), '', null],
    ['all accepted written after', ms(r.drainMs), `<= ${fmt(TARGETS.drainMs)} ms`, r.drainMs === null ? false : r.drainMs <= TARGETS.drainMs],
  ];
  const w = Math.max(12, ...rows.map((x) => x[1].length));
  const lines = [`${'figure'.padEnd(32)}${'value'.padEnd(w)}  ${'target'.padEnd(14)}`, '-'.repeat(32 + w + 2 + 14 + 5)];
  for (const [name, value, target, ok] of rows) lines.push(`${name.padEnd(32)}${value.padEnd(w)}  ${target.padEnd(14)}${target ? mark(ok) : ''}`);
  const refused = Object.entries(r.refused).sort((a, b) => b[1] - a[1]);
  lines.push('', `${fmt(r.requests)} responses in ${r.durationS} s; refused by code: ${refused.length ? refused.map(([c, n]) => `${c} ${fmt(n)}`).join(', ') : 'none'}`);
  const perSecond: number[] = [];
  for (let i = 0; i < r.timeline.length; i += 10) perSecond.push(r.timeline.slice(i, i + 10).reduce((x, y) => x + y, 0));
  lines.push(`responses per second from the first request: ${perSecond.map((n) => fmt(n)).join(' ')}`);
  const e = r.socketErrors;
  if (e.connect + e.read + e.write + e.timeout > 0) lines.push(`socket errors: connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}`);
  if (r.uncertain > 0) lines.push(`${fmt(r.uncertain)} requests answered 503 with an unknown publish outcome (counted as uncertain by the audit)`);
  const c = r.cpuUsPerResponse;
  if (c.app === null) lines.push('server cpu per response: not tracked (--url: the app is not a child of the bench; its CPU counts as other processes)');
  else {
    lines.push(
      `server cpu per response: app ${c.app} µs${c.baseline === null ? '' : `, baseline ${c.baseline} µs, ratio ${c.ratio} (the ratio if each server had its core to itself)`}`,
    );
  }
  lines.push(`cpu, purchase run: ${cpuLine(r.cpu.purchase)}`);
  if (r.cpu.baseline) lines.push(`cpu, baseline run: ${cpuLine(r.cpu.baseline)}`);
  // With --url the app itself is among "other processes", so only the baseline run can say.
  const noisy = Math.max(c.app === null ? 0 : r.cpu.purchase.other, r.cpu.baseline?.other ?? 0);
  if (noisy >= 0.25) lines.push(`WARNING: other processes used up to ${noisy.toFixed(2)} cores during a measured phase; these figures are not comparable with a quiet run`);
  lines.push(`source: ${r.commit}`);
  lines.push(`settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  lines.push('', formatAudit(audit));
  return lines.join('\n');
}

if (require.main === module) {
  bench(process.argv.slice(2), process.env, process.stdout).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(2);
    },
  );
}
