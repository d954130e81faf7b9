// One fault per scenario, each on a fresh database and queue: prepare a sale with the bench's modules, start
// the app, load it, inject the fault at a set point of the sale, heal, drain, then check what must hold.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../ormconfig';
import { loadConfig } from '../../src/config/loadConfig';
import { parseOrderBody } from '../../src/queue/OrderQueue';
import { createSale, createShoppers, tokenMakers } from '../bench/prepare';
import { shardKey } from '../../src/lib/shard';
import { health as fetchHealth, spawnApp, waitHealthy } from '../lib/appProcess';
import { Cluster } from '../lib/cluster';
import { TcpProxy, tcpProxy } from '../lib/tcpProxy';
import { Child, freePort, sleep } from '../lib/processes';
import {
  mariadbUp,
  otherUsers,
  QueueProbe,
  rabbitUp,
  restoreServices,
  startMariadb,
  startRabbit,
  stopMariadb,
  stopRabbit,
  trackDatabase,
  trackQueues,
  waitForOthers,
} from './backends';
import { countRows, countSaleOrders, createScenarioDatabase, dropScenarioDatabase, saleRequestIds } from '../lib/toolsData';
import { LoadClient, LoadShopper } from './load';
import { Check, check, ScenarioResult, verifySale } from './verify';

export interface ChaosSettings {
  runId: string;
  /** Where app logs and request logs go. */
  dir: string;
  root: string;
  mysqlServerUrl: string;
  amqpUrl: string;
  cookieKeys: string;
  stock: number;
  users: number;
  concurrency: number;
  ratePerSecond: number;
  retryDelayMs: number;
  /** The app's one-attempt-per-shopper interval; low, so that retries are not all refused TOO_FAST. */
  userIntervalMs: number;
  loadDurationMs: number;
  /** The fault strikes once this share of the stock has been accepted. */
  faultAt: number;
  /** How long to wait for other runs on the shared services before a scenario that restarts one. */
  waitOthersMs: number;
}

interface Health {
  status: number;
  ok: boolean;
  sales: string;
  database: { up: boolean };
  queue: { up: boolean; depth: number | null };
}

/** Someone started a run on the shared services between the wait and the fault: try the scenario later. */
export class ServicesBusyError extends Error {}

/** Right before a service goes down: nobody else may have started in the meantime. */
async function assertAlone(): Promise<void> {
  const others = await otherUsers();
  if (others.length > 0) throw new ServicesBusyError(`another run started on the shared services: ${others[0].slice(0, 120)}`);
}

export interface Ctx {
  s: ChaosSettings;
  say: (line: string) => void;
  dir: string;
  baseUrl: string;
  saleId: number;
  databaseUrl: string;
  env: NodeJS.ProcessEnv;
  app: Child;
  runs: number;
  probe: QueueProbe;
  load: LoadClient;
  checks: Check[];
  notes: string[];
  startApp(): Promise<Child>;
  /** Scenarios of several instances: the instances and their balancer (ctx.app is the first instance). */
  cluster: Cluster | null;
  /** What a scenario's setup left for its fault (a proxy, say). */
  extra: Record<string, unknown>;
}

export interface Scenario {
  key: string;
  name: string;
  /** Several instances behind nginx (docs/CLUSTER.md) instead of one process. */
  instances?: number;
  /** The load's attempts per second, when the fault needs the sale to last longer than the drill's rate gives. */
  ratePerSecond?: number;
  /**
   * Before the instances start: settings of one instance over the others' (its database through a proxy
   * the fault cuts, say); what it leaves in `extra` is the fault's, and `extra.close()` runs at the end.
   */
  setup?(extra: Record<string, unknown>, databaseUrl: string): Promise<(id: string) => NodeJS.ProcessEnv>;
  /** Stops a shared service: waits for others' runs first. */
  restartsService: boolean;
  /** Strikes (and heals) the fault; the load keeps running meanwhile. */
  fault(ctx: Ctx): Promise<void>;
  /** Extra checks once healed and drained. */
  after?(ctx: Ctx): Promise<void>;
}

const health = (baseUrl: string) => fetchHealth<Omit<Health, 'status'>>(baseUrl);

/** Waits until /healthz answers 200 ok with the sales open; the check says how long it took. */
async function healthy(ctx: Ctx, name: string, timeoutMs: number): Promise<void> {
  const t = Date.now();
  let h: Health | null = null;
  while (Date.now() - t < timeoutMs) {
    h = await health(ctx.baseUrl);
    if (h && h.status === 200 && h.ok && h.sales === 'open') break;
    await sleep(100);
  }
  const ok = !!h && h.status === 200 && h.ok && h.sales === 'open';
  ctx.checks.push(check(name, ok, ok ? `/healthz ok ${Date.now() - t} ms later` : `/healthz after ${timeoutMs} ms: ${JSON.stringify(h)}`));
}

function grepCount(file: string, pattern: RegExp): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8').split('\n').filter((l) => pattern.test(l)).length;
}

// ------------------------------------------------------------------------------------------ the faults

/** A graceful stop must end well within an orchestrator's patience, load or not. */
const SIGTERM_EXIT_MS = 15_000;

export const SCENARIOS: Scenario[] = [
  {
    key: 'rabbitmq',
    name: 'RabbitMQ restarted',
    restartsService: true,
    async fault(ctx) {
      await assertAlone();
      const t = Date.now();
      await stopRabbit();
      const stopped = Date.now();
      await sleep(1500);
      await startRabbit();
      ctx.notes.push(`rabbitmqctl stop_app took ${stopped - t} ms; down ${Date.now() - t} ms in all until await_startup returned`);
      await healthy(ctx, 'the app reconnected to RabbitMQ by itself', 30_000);
    },
  },
  {
    key: 'sigkill',
    name: 'app killed (SIGKILL)',
    restartsService: false,
    async fault(ctx) {
      const old = ctx.app;
      old.proc.kill('SIGKILL');
      const code = await old.exited;
      ctx.notes.push(`app ended by ${code} at ${ctx.load.counts.accepted} accepted`);
      await sleep(500);
      const t = Date.now();
      ctx.app = await ctx.startApp();
      ctx.checks.push(check('the killed app starts again (drain, rebuild) and reopens the sale', true, `open ${Date.now() - t} ms after its start`));
    },
  },
  {
    key: 'sigterm',
    name: 'app stopped (SIGTERM)',
    restartsService: false,
    async fault(ctx) {
      const old = ctx.app;
      const acceptedAtTerm = ctx.load.counts.accepted;
      const tTerm = Date.now();
      old.proc.kill('SIGTERM');
      const code = await Promise.race([old.exited, sleep(30_000).then(() => 'still running after 30 s')]);
      const tExit = Date.now();
      if (old.proc.exitCode === null && old.proc.signalCode === null) {
        old.proc.kill('SIGKILL');
        await old.exited;
      }
      ctx.checks.push(
        check('SIGTERM: the app exits with code 0', code === 0, `exit ${code}, ${tExit - tTerm} ms after SIGTERM`),
        // Shoppers keep their keep-alive connections busy throughout: a shutdown that waits for them to leave
        // is not graceful, it ends in the orchestrator's SIGKILL (Docker waits 10 s, Kubernetes 30 s).
        check(
          `SIGTERM: the app exits within ${SIGTERM_EXIT_MS / 1000} s while shoppers keep their connections`,
          tExit - tTerm <= SIGTERM_EXIT_MS,
          `exited ${tExit - tTerm} ms after SIGTERM`,
        ),
      );
      // Every 202 this process gave is in hand once the requests started before its exit have their outcome.
      await ctx.load.settledBefore(tExit);
      const accepted = [...ctx.load.accepted.keys()];
      const rows = await saleRequestIds(ctx.databaseUrl, ctx.saleId);
      const missing = accepted.filter((id) => !rows.has(id));
      const depth = await ctx.probe.depth().catch((e: Error) => `unknown (${e.message})`);
      const lastAfter = ctx.load.lastAcceptedAt - tTerm;
      ctx.checks.push(
        check(
          'SIGTERM: everything accepted is written before the exit',
          missing.length === 0 && depth === 0,
          `${accepted.length} accepted (${accepted.length - acceptedAtTerm} of them answered after SIGTERM), ` +
            `${rows.size} order rows at exit, ${missing.length} accepted missing, order queue depth ${depth}`,
        ),
        check(
          'SIGTERM: no purchase taken once the shutdown began',
          lastAfter <= 2000,
          lastAfter > 0 ? `last 202 answered ${lastAfter} ms after SIGTERM (requests in hand)` : 'no 202 after SIGTERM',
        ),
      );
      await sleep(300);
      const t = Date.now();
      ctx.app = await ctx.startApp();
      ctx.notes.push(`restarted; sale open again ${Date.now() - t} ms after the start`);
    },
  },
  {
    key: 'mariadb',
    name: 'MariaDB restarted',
    restartsService: true,
    async fault(ctx) {
      await assertAlone();
      const written = await countSaleOrders(ctx.databaseUrl, ctx.saleId);
      const accepted = ctx.load.counts.accepted;
      const t = Date.now();
      await stopMariadb();
      const stopped = Date.now();
      await sleep(1000);
      await startMariadb();
      ctx.notes.push(
        `at the stop: ${accepted} accepted, ${written} written; mariadbd took ${stopped - t} ms to stop, answered ping ${Date.now() - t} ms after the stop began`,
      );
      await healthy(ctx, 'the app uses the database again by itself', 30_000);
    },
    async after(ctx) {
      const waits = grepCount(path.join(ctx.dir, `app-${ctx.runs}.log`), /database unavailable; order batch waits/);
      ctx.notes.push(`the consumer paused ${waits} times on the database outage (app log)`);
    },
  },
  {
    key: 'poison',
    name: 'malformed message',
    restartsService: false,
    async fault(ctx) {
      const tag = randomUUID();
      const bodies = [
        `chaos drill ${tag}: not JSON at all`,
        JSON.stringify({ requestId: 'x', saleId: 'one', userId: -1, at: 'now', chaos: tag }),
      ];
      for (const b of bodies) {
        if (holdsOrder(b)) throw new Error(`the drill's malformed message is a valid order: ${b}`);
        await ctx.probe.publishRaw(b);
      }
      (ctx as Ctx & { poison?: string[] }).poison = bodies;
      ctx.notes.push(`published ${bodies.length} malformed messages straight to ${ctx.probe.queue} at ${ctx.load.counts.accepted} accepted`);
    },
    async after(ctx) {
      const bodies = (ctx as Ctx & { poison?: string[] }).poison ?? [];
      // Messages read by an earlier check go back to the queue when its channel closes, a moment later.
      let depth = await ctx.probe.depth(ctx.probe.deadQueue);
      for (let i = 0; i < 40 && depth < bodies.length; i++) {
        await new Promise((r) => setTimeout(r, 50));
        depth = await ctx.probe.depth(ctx.probe.deadQueue);
      }
      const dead = await ctx.probe.deadLetters();
      const found = bodies.filter((b) => dead.includes(b));
      ctx.checks.push(
        check(
          'the malformed messages sit in the dead-letter queue, body intact',
          depth >= bodies.length && found.length === bodies.length,
          `dead-letter depth ${depth}; ${found.length} of ${bodies.length} sent bodies found there`,
        ),
      );
    },
  },
  {
    key: 'cluster_kill',
    name: '1 of 3 instances killed (SIGKILL)',
    restartsService: false,
    instances: 3,
    async fault(ctx) {
      const cluster = ctx.cluster!;
      const code = await cluster.kill('i2');
      const t = Date.now();
      ctx.notes.push(`i2 ended by ${code} at ${ctx.load.counts.accepted} accepted; i1 and i3 sell on, i2's shoppers move to them on nginx's ring`);
      // The others reclaim its lease once it has expired, its orders are written and its consumer is gone.
      const reclaimed = await waitForRows(ctx, "SELECT COUNT(*) AS n FROM stock_leases WHERE instance_id LIKE 'i2#%' AND state = 'reclaimed'", 20_000);
      ctx.checks.push(check("the dead instance's lease is reclaimed by the others", reclaimed, reclaimed ? `${Date.now() - t} ms after the kill` : 'not within 20 s'));
    },
  },
  {
    key: 'cluster_cut',
    name: '1 of 3 instances cut off from the authority',
    restartsService: false,
    instances: 3,
    async setup(extra, databaseUrl) {
      const target = new URL(databaseUrl);
      const proxy = await tcpProxy(target.hostname, Number(target.port || 3306));
      extra.proxy = proxy;
      extra.close = () => proxy.close();
      const proxied = new URL(databaseUrl);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      return (id) => (id === 'i2' ? { DATABASE_URL: proxied.toString() } : {});
    },
    async fault(ctx) {
      const proxy = ctx.extra.proxy as TcpProxy;
      const at = ctx.load.counts.accepted;
      await proxy.cut();
      // Longer than a lease: i2 must fence itself (it cannot renew), and nobody may take its units meanwhile.
      await sleep(6000);
      const during = ctx.load.counts.accepted - at;
      await proxy.restore();
      ctx.notes.push(`i2's database connections cut for 6 s at ${at} accepted (${during} accepted meanwhile by i1 and i3); restored`);
      const back = await waitForHealth(ctx, 'i2', 20_000);
      ctx.checks.push(check('the cut-off instance renews and sells again once reconnected', back, back ? 'i2 settled and open again' : 'i2 not settled within 20 s'));
    },
  },
  {
    key: 'cluster_authority',
    name: 'MariaDB (the authority) restarted under 3 instances',
    restartsService: true,
    instances: 3,
    async fault(ctx) {
      await assertAlone();
      const accepted = ctx.load.counts.accepted;
      const t = Date.now();
      await stopMariadb();
      await sleep(1000);
      await startMariadb();
      ctx.notes.push(`at the stop: ${accepted} accepted; MariaDB answered again ${Date.now() - t} ms after the stop began`);
      const back = await Promise.all(['i1', 'i2', 'i3'].map((id) => waitForHealth(ctx, id, 30_000)));
      ctx.checks.push(check('every instance renews and settles again by itself', back.every(Boolean), back.map((ok, i) => `i${i + 1} ${ok ? 'back' : 'not back'}`).join(', ')));
    },
  },
  {
    key: 'cluster_join',
    name: 'an instance added mid-sale',
    restartsService: false,
    instances: 2,
    // A slower crowd: the sale still sells for seconds after the new instance has started and settled.
    ratePerSecond: 150,
    async fault(ctx) {
      const t = Date.now();
      const added = await ctx.cluster!.add();
      ctx.notes.push(`${added.id} joined and settled ${Date.now() - t} ms after its start; nginx reloaded with it (its share of the ring moves to it)`);
      const sold = await waitForRows(ctx, `SELECT COUNT(*) AS n FROM orders WHERE lease_id IN (SELECT id FROM stock_leases WHERE instance_id LIKE '${added.id}#%')`, 15_000);
      ctx.checks.push(check('the added instance sells', sold, sold ? 'orders from its leases written' : 'none within 15 s'));
    },
  },
];

/** Polls a count in the scenario's database until it is above zero. */
async function waitForRows(ctx: Ctx, sql: string, timeoutMs: number): Promise<boolean> {
  const t = Date.now();
  while (Date.now() - t < timeoutMs) {
    const n = await countRows(ctx.databaseUrl, sql).catch(() => 0);
    if (n > 0) return true;
    await sleep(250);
  }
  return false;
}

/** Waits until one instance answers /healthz 200 with its sales open and its buyers settled. */
async function waitForHealth(ctx: Ctx, id: string, timeoutMs: number): Promise<boolean> {
  const url = ctx.cluster!.instance(id).url;
  const t = Date.now();
  while (Date.now() - t < timeoutMs) {
    const h = await fetchHealth<{ sales?: string; cluster?: { settled?: boolean } }>(url);
    if (h && h.status === 200 && h.sales === 'open' && h.cluster?.settled) return true;
    await sleep(250);
  }
  return false;
}

// ------------------------------------------------------------------------------------------ the runner

async function drain(ctx: Ctx, timeoutMs: number): Promise<void> {
  const t = Date.now();
  let last: number | null = null;
  let stable = 0;
  let h: Health | null = null;
  let depth: number | null = null;
  while (Date.now() - t < timeoutMs) {
    h = await health(ctx.baseUrl);
    depth = await ctx.probe.depth().catch(() => null);
    const count = await countSaleOrders(ctx.databaseUrl, ctx.saleId).catch(() => null);
    const quiet = !!h && h.ok && h.sales === 'open' && depth === 0 && count !== null;
    stable = quiet && count === last ? stable + 1 : 0;
    last = count;
    if (stable >= 4) break;
    await sleep(250);
  }
  // Ready messages are 0; messages delivered and not yet acked must be 0 as well.
  const total = await ctx.probe.total();
  const ok = stable >= 4 && (total === null || total === 0);
  ctx.checks.push(
    check(
      'healed and drained: queue empty, /healthz ok, order count stable',
      ok,
      ok
        ? `${last} orders, stable for 1 s, ${Date.now() - t} ms after the load ended${total === null ? ' (unacked count not read)' : ', 0 unacked'}`
        : `after ${timeoutMs} ms: queue depth ${depth}, messages incl. unacked ${total}, /healthz ${JSON.stringify(h)}, orders ${last}`,
    ),
  );
}

/** True when a queue message body carries at least one valid order. */
function holdsOrder(body: string): boolean {
  return parseOrderBody(body).some((m) => m !== null);
}

async function deadLetterCheck(ctx: Ctx): Promise<void> {
  const dead = await ctx.probe.deadLetters().catch((e: Error) => e);
  if (dead instanceof Error) {
    ctx.checks.push(check('no order message was given up on (none in the dead-letter queue)', false, `could not read it: ${dead.message}`));
    return;
  }
  const orders = dead.filter(holdsOrder);
  ctx.checks.push(
    check(
      'no order message was given up on (none in the dead-letter queue)',
      orders.length === 0,
      orders.length === 0 ? `${dead.length} dead letters, none a valid order` : `${orders.length} messages holding valid orders parked, e.g. ${orders[0]}`,
    ),
  );
}

export async function runScenario(n: number, sc: Scenario, s: ChaosSettings, say: (line: string) => void): Promise<ScenarioResult> {
  const t0 = Date.now();
  const result: ScenarioResult = { n, name: sc.name, figures: null, checks: [], ms: 0, waitedMs: 0, notes: [] };
  const dbName = `chaos_${s.runId}_${sc.key}`;
  const queue = `flash-sale.chaos-${s.runId}-${sc.key}`;
  const dir = path.join(s.dir, `${n}-${sc.key}`);
  const apps: Child[] = [];
  const clusters: Cluster[] = [];
  const extra: Record<string, unknown> = {};
  const probe = new QueueProbe(s.amqpUrl, queue);
  let ds: DataSource | null = null;
  let dbCreated = false;
  say(`\n[${n}] ${sc.name}: database ${dbName}, queue ${queue}, logs ${dir}`);
  try {
    mkdirSync(dir, { recursive: true });
    if (sc.restartsService) {
      const free = await waitForOthers(s.waitOthersMs, say);
      result.waitedMs = Date.now() - t0;
      if (result.waitedMs > 1000) result.notes.push(`waited ${(result.waitedMs / 1000).toFixed(0)} s for other runs on the shared services`);
      if (!free) {
        result.checks.push(check('the shared services are free for a restart', false, `other runs still going after ${s.waitOthersMs / 1000} s; not run`));
        return result;
      }
    }
    if (!(await mariadbUp()) || !(await rabbitUp())) throw new Error('MariaDB or RabbitMQ is not up before the scenario');

    // A sale and its shoppers, made by the bench's own preparation, with the app's key.
    trackDatabase(s.mysqlServerUrl, dbName, true);
    trackQueues(queue, true);
    const databaseUrl = await createScenarioDatabase(s.mysqlServerUrl, dbName);
    dbCreated = true;
    const database = loadConfig({ DATABASE_URL: databaseUrl, NODE_ENV: 'development' }).database;
    const cookieKeys = loadConfig({ DATABASE_URL: databaseUrl, COOKIE_KEYS: s.cookieKeys }).cookieKeys;
    // The app runs in production (below): its login cookie has the production name.
    const cookieName = loadConfig({ NODE_ENV: 'production', COOKIE_KEYS: s.cookieKeys }).cookies.session;
    ds = createDataSource(database);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    const validMs = 15 * 60_000;
    const userIds = await createShoppers(ds, `chaos-${s.runId}-${sc.key}`, s.users);
    const saleId = await createSale(ds, `chaos-${s.runId}-${sc.key}`, s.stock, validMs);
    const { accounts, tickets } = tokenMakers(ds, cookieKeys, validMs);
    const now = Date.now();
    const shoppers: LoadShopper[] = userIds.map((userId) => ({
      userId,
      path: `/api/sales/${saleId}/buy/${tickets.pathFor(saleId, userId)}`,
      // Several instances: the shard cookie the app sets at login, by which nginx keeps a shopper on one instance.
      cookie: `${cookieName}=${accounts.issueSession(userId, now)}${sc.instances ? `; shard=${shardKey(cookieKeys[0], userId)}` : ''}`,
    }));
    // The drill holds no pool through the faults; checks use short connections, the audit a fresh pool.
    await ds.destroy();
    ds = null;

    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      AMQP_URL: s.amqpUrl,
      QUEUE_NAME: queue,
      COOKIE_KEYS: s.cookieKeys,
      LOG_LEVEL: 'info',
      DEMO: 'false',
      // All shoppers share 127.0.0.1: the per-IP limit is raised so that it is on but never binding.
      IP_LIMIT: '1000000000',
      IP_WINDOW_MS: '60000',
      // The load retries after every refusal, as a script would: the automatic blacklist counts, never blocks.
      ABUSE_TOO_FAST: '1000000000',
      ABUSE_CAPTCHA_WRONG: '1000000000',
      PURCHASE_BUCKET_PER_SECOND: '40000',
      PURCHASE_BUCKET_CAPACITY: '4000',
      USER_INTERVAL_MS: String(s.userIntervalMs),
    };
    if (process.env.LAG_THRESHOLD_MS) env.LAG_THRESHOLD_MS = process.env.LAG_THRESHOLD_MS;
    // Several instances: leases that live 2 s, so a dead instance's units come back within the load.
    if (sc.instances) env.LEASE_TTL_MS = '2000';
    let cluster: Cluster | null = null;
    if (sc.instances) {
      const envFor = sc.setup ? await sc.setup(extra, databaseUrl) : undefined;
      const { HOST: _host, PORT: _port, ...shared } = env;
      cluster = await Cluster.start({
        root: s.root,
        instances: sc.instances,
        dir,
        databaseUrl,
        amqpUrl: s.amqpUrl,
        cookieKeys: s.cookieKeys,
        env: shared,
        envFor,
        ready: (h) => h.sales === 'open' && (h.cluster as { settled?: boolean } | undefined)?.settled === true,
      });
      clusters.push(cluster);
    }
    const baseUrl = cluster ? cluster.url : `http://127.0.0.1:${port}`;

    const load = new LoadClient({
      baseUrl,
      shoppers,
      ticket: (userId) => tickets.issue(saleId, userId),
      concurrency: s.concurrency,
      ratePerSecond: sc.ratePerSecond ?? s.ratePerSecond,
      retryDelayMs: s.retryDelayMs,
      requestTimeoutMs: 5000,
      maxAttemptsPerShopper: 60,
      durationMs: s.loadDurationMs,
      logFile: path.join(dir, 'requests.jsonl'),
    });
    let runs = 0;
    const startApp = async (): Promise<Child> => {
      runs += 1;
      const app = spawnApp({ root: s.root, port, env, logFile: path.join(dir, `app-${runs}.log`) });
      apps.push(app.child);
      await waitHealthy(app, `the app (start ${runs})`, 60_000, (h) => h.sales === 'open');
      return app.child;
    };
    const ctx: Ctx = {
      s,
      say,
      dir,
      baseUrl,
      saleId,
      databaseUrl,
      env,
      app: cluster ? cluster.instances[0].child : await startApp(),
      cluster,
      extra,
      get runs() {
        return runs;
      },
      probe,
      load,
      checks: result.checks,
      notes: result.notes,
      startApp,
    };

    const loading = load.run();
    const at = Math.round(s.stock * s.faultAt);
    const reached = await load.whenAccepted(at, 15_000);
    const tFault = Date.now() - load.startedAt;
    if (!reached) result.notes.push(`only ${load.counts.accepted} accepted after 15 s; fault injected anyway`);
    say(`  fault at ${load.counts.accepted} accepted, ${tFault} ms into the sale`);
    await sc.fault(ctx);
    say(`  healed ${Date.now() - load.startedAt - tFault} ms later; ${load.counts.accepted} accepted so far`);
    await loading;
    result.notes.push(
      `load: ${load.counts.accepted + load.counts.refused + load.counts.unknown} requests in ${((load.endedAt - load.startedAt) / 1000).toFixed(1)} s, ` +
        `${load.remaining} shoppers still trying at the end`,
    );
    result.notes.push(`refused by code: ${table(load.refusedByCode)}`);
    if (load.counts.unknown > 0) result.notes.push(`unknown by kind: ${table(load.unknownByKind)}`);

    await drain(ctx, 30_000);
    await deadLetterCheck(ctx);
    if (sc.after) await sc.after(ctx);

    ds = createDataSource(database);
    await ds.initialize();
    const { checks, figures } = await verifySale(ds, saleId, load, cluster !== null);
    result.checks.push(...checks);
    result.figures = figures;

    if (cluster) {
      const codes = await Promise.all(cluster.live().map(async (i) => `${i.id} ${await i.child.stop(20_000)}`));
      result.checks.push(check('every live instance stops cleanly at the end (SIGTERM, exit 0)', codes.every((c) => c.endsWith(' 0')), codes.join(', ')));
      await cluster.stopAll(5000);
    } else {
      const code = await ctx.app.stop(20_000);
      result.checks.push(check('the app stops cleanly at the end (SIGTERM, exit 0)', code === 0, `exit ${code}`));
    }
    return result;
  } catch (e) {
    if (e instanceof ServicesBusyError) {
      result.busy = true;
      result.notes.push(`${e.message}; fault not injected`);
    }
    result.checks.push(check('the scenario ran to the end', false, (e as Error).message));
    return result;
  } finally {
    for (const app of apps) await app.stop(5000);
    for (const c of clusters) await c.stopAll(5000);
    if (typeof extra.close === 'function') await (extra.close as () => Promise<void>)().catch(() => undefined);
    await restoreServices(say);
    if (ds?.isInitialized) await ds.destroy().catch(() => undefined);
    await probe.deleteQueues();
    await probe.close();
    trackQueues(queue, false);
    if (dbCreated) {
      await dropScenarioDatabase(s.mysqlServerUrl, dbName).then(
        () => trackDatabase(s.mysqlServerUrl, dbName, false),
        (e) => say(`  could not drop ${dbName}: ${(e as Error).message}`),
      );
    } else trackDatabase(s.mysqlServerUrl, dbName, false);
    result.ms = Date.now() - t0;
  }
}

function table(t: Record<string, number>): string {
  const entries = Object.entries(t).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}

