// Composition root: the one place that builds repositories, services and controllers and wires them.
import { randomBytes } from 'node:crypto';
import pino, { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../ormconfig';
import { buildOrderQueue, buildPurchasePath, purchasePathSettings, rehearsalSettings } from './buildPurchasePath';
import type { ClusterSettings, Config } from './config/loadConfig';
import { AdminController } from './controllers/AdminController';
import { HealthController } from './controllers/HealthController';
import { LiveController } from './controllers/LiveController';
import { MetricsController } from './controllers/MetricsController';
import { OrderController } from './controllers/OrderController';
import { PurchaseRehearsal, RehearsalResult, ScratchShop } from './controllers/PurchaseRehearsal';
import { SaleController } from './controllers/SaleController';
import { UserController } from './controllers/UserController';
import { Histogram } from './lib/Histogram';
import { LagMonitor } from './lib/LagMonitor';
import { ShardCookie } from './middleware/shardCookie';
import { buildOrderConsumer } from './queue/buildOrderConsumer';
import { ClusterBus } from './queue/ClusterBus';
import type { OrderQueue, SettlementListener } from './queue/OrderQueue';
import { CONFIRM_SECONDS, RabbitOrderQueue } from './queue/RabbitOrderQueue';
import { WriterStats } from './queue/WriterStats';
import { InlineOrderWriter, OrderWriter } from './queue/OrderWriter';
import { ThreadOrderWriter, ThreadScript } from './queue/ThreadOrderWriter';
import { DEFAULT_HOLD, HoldSettings } from './queue/WriterHold';
import { BlacklistRepository } from './repositories/BlacklistRepository';
import { DrawRepository } from './repositories/DrawRepository';
import { HealthRepository } from './repositories/HealthRepository';
import { LeaseRepository } from './repositories/LeaseRepository';
import { OrderRepository } from './repositories/OrderRepository';
import { ProductRepository } from './repositories/ProductRepository';
import { SaleRepository } from './repositories/SaleRepository';
import { UserRepository } from './repositories/UserRepository';
import {
  CaptchaGenerator,
  CaptchaPool,
  CaptchaRenderer,
  FileCaptchaRenderer,
  InlineCaptchaRenderer,
  RenderScript,
  ThreadCaptchaRenderer,
} from './services/CaptchaPool';
import { AuditService } from './services/AuditService';
import { CaptchaService } from './services/CaptchaService';
import { CatalogService } from './services/CatalogService';
import { ClusterService, ClusterTimings } from './services/ClusterService';
import { DemoSeeder } from './services/DemoSeeder';
import { LeasedInventory } from './services/LeasedInventory';
import { DrawService } from './services/DrawService';
import { LoginGuard } from './services/LoginGuard';
import { OrderService } from './services/OrderService';
import { ProofOfWork } from './services/ProofOfWork';
import { LiveSampler } from './services/LiveSampler';
import { PurchaseMeter } from './services/PurchaseMeter';
import { RecoveryService } from './services/RecoveryService';
import { SaleLifecycle } from './services/SaleLifecycle';
import { ShopMetrics } from './services/ShopMetrics';
import { ShopProbe } from './services/ShopProbe';

export interface Overrides {
  logger?: Logger;
  captchaGenerator?: CaptchaGenerator;
  queue?: OrderQueue;
  dataSource?: DataSource;
  /** The order writer thread's entry (tests run it from TypeScript). */
  writerScript?: ThreadScript;
  /** The captcha render thread's entry (tests run it from TypeScript). */
  captchaScript?: RenderScript;
  /** The writer's hold beyond WRITER_HOLD_MS (tests widen its window). */
  writerHold?: Partial<HoldSettings>;
}

export type Container = ReturnType<typeof buildContainer>;

export function buildContainer(config: Config, overrides: Overrides = {}) {
  const log = overrides.logger ?? pino({ level: config.logLevel, base: undefined });
  const dataSource = overrides.dataSource ?? createDataSource(config.database);
  const confirmLatency = new Histogram(CONFIRM_SECONDS);
  const queue: OrderQueue = overrides.queue ?? buildOrderQueue(config, log, confirmLatency);

  const orderRepository = new OrderRepository(dataSource);
  const repos = {
    users: new UserRepository(dataSource),
    products: new ProductRepository(dataSource),
    sales: new SaleRepository(dataSource),
    orders: orderRepository,
    draws: new DrawRepository(dataSource, orderRepository),
    blacklist: new BlacklistRepository(dataSource),
    health: new HealthRepository(dataSource, config.database.kind),
  };

  const lag = new LagMonitor(config.purchase.lagThresholdMs);
  const pathSettings = purchasePathSettings(config);
  const captchaPool = new CaptchaPool(captchaRenderer(config, log, overrides), config.captcha.poolSize, log);
  const captchas = new CaptchaService(captchaPool, config.captcha.waitMs);
  const meter = new PurchaseMeter();
  // Several instances: the stock is leased from the database, news goes over the broker (docs/CLUSTER.md).
  const shared = config.cluster && config.amqpUrl && queue instanceof RabbitOrderQueue ? clusterParts(config, config.cluster, config.amqpUrl, dataSource, log) : null;
  const path = buildPurchasePath(pathSettings, {
    users: repos.users,
    blacklist: repos.blacklist,
    queue,
    captchas,
    overloaded: lag.overloaded,
    meter,
    log,
    inventory: shared?.inventory,
    entries: repos.draws,
  });
  const { book, tracker, tickets, generations, accounts, blacklist, abuse, funnel } = path;
  const proofs = new ProofOfWork(config.cookieKeys[0], config.powCost);
  const logins = new LoginGuard(accounts, proofs, config.login);
  const catalog = new CatalogService(repos.products, repos.sales, book, () => tracker.pendingCount());
  const orders = new OrderService(repos.orders, tracker);
  // What the writer settles: ours for the tracker; with several instances, others' are told to them.
  const settled: SettlementListener = shared
    ? {
        written: (id) => (tracker.get(id) ? tracker.written(id) : shared.bus.settled(id, true)),
        failed: (id) => (tracker.get(id) ? tracker.failed(id) : shared.bus.settled(id, false)),
      }
    : tracker;
  // Only a broker's queue holds orders safely while the writer waits: the in-process one loses them in a crash.
  const writerStats = new WriterStats();
  const hold = { ...DEFAULT_HOLD, maxMs: queue.kind === 'rabbitmq' ? config.writerHoldMs : 0, ...overrides.writerHold };
  const writer: OrderWriter =
    config.orderWriter === 'thread' && config.amqpUrl && !overrides.queue
      ? new ThreadOrderWriter(
          {
            database: config.database,
            amqpUrl: config.amqpUrl,
            queueName: config.queueName,
            logLevel: config.logLevel,
            pace: tracker.pace.buffer,
            hold,
          },
          settled,
          log,
          overrides.writerScript,
          undefined,
          writerStats.observe,
        )
      : new InlineOrderWriter(
          queue,
          buildOrderConsumer({ dataSource, databaseKind: config.database.kind, settled, pace: tracker.pace, hold, log, batches: writerStats.observe }),
        );
  const draws = new DrawService(repos.draws, repos.sales, repos.orders, book, log);
  const recovery = new RecoveryService(queue, writer, repos.sales, repos.orders, book, blacklist, log);
  const cluster = shared
    ? new ClusterService(shared.timings, shared.leases, shared.inventory, shared.bus, queue as RabbitOrderQueue, repos.orders, book, {
        blacklistChanged: () => blacklist.load(),
        revoked: (userId, floor) => generations.apply(userId, floor),
        reloadAll: async () => {
          await recovery.rebuild();
          await generations.load();
        },
        saleChanged: (saleId) => catalog.refreshSale(saleId),
        written: (id) => tracker.written(id),
        failed: (id) => tracker.failed(id),
      }, log)
    : null;
  if (shared && cluster) {
    shared.countMembersWith(() => cluster.liveMembers());
    blacklist.changed = () => shared.bus.send({ t: 'blacklist' });
    generations.revoked = (user, floor) => shared.bus.send({ t: 'revoked', user, floor });
    catalog.saleChanged = (sale) => shared.bus.send({ t: 'sale', sale });
  }

  // Watching the shop: read from counters it keeps anyway and one shared probe of its dependencies.
  const probe = new ShopProbe(repos.health, queue, writer);
  const audit = new AuditService(repos.sales, repos.orders, repos.draws);
  const lifecycle = new SaleLifecycle(book, tracker, meter, async (saleId) => {
    const [report, ordersWritten, lastOrderAt] = await Promise.all([
      audit.audit({ saleId }),
      repos.orders.countBySale(saleId),
      repos.orders.lastAcceptedAt(saleId),
    ]);
    return { ordersWritten, lastOrderAt, audit: { ok: report.ok, failures: report.failures } };
  }, log);
  const live = new LiveSampler({ book, meter, tracker, probe, lag, lifecycle });
  const metrics = new ShopMetrics(config.metrics.instance, {
    meter,
    confirmLatency,
    writer: writerStats,
    book,
    tracker,
    probe,
    lag,
    captchas: captchaPool,
    cluster: shared && cluster
      ? {
          authorityOps: () => shared.leases.ops,
          held: () => shared.inventory.held(),
          members: () => cluster.liveMembers(),
          busMessages: () => ({ sent: shared.bus.sent, received: shared.bus.received }),
        }
      : undefined,
  });

  const services = { draws, accounts, generations, logins, proofs, blacklist, catalog, orders, funnel, captchas, tickets, tracker, book, recovery, captchaPool, lifecycle, live };

  const shardCookie = new ShardCookie(config.cookieKeys[0], config.cookies, config.sessionTtlMs);
  const controllers = {
    users: new UserController(accounts, logins, proofs, config.sessionTtlMs, config.cookies, shardCookie),
    sales: new SaleController(catalog, book, captchas, tickets, abuse),
    orders: new OrderController(orders, catalog),
    admin: new AdminController(catalog, orders, blacklist, accounts, draws),
    health: new HealthController(
      repos.health,
      queue,
      funnel,
      writer,
      shared && cluster
        ? () => ({ incarnation: shared.timings.incarnation, settled: shared.inventory.isSettled(), members: cluster.liveMembers(), heldUnits: shared.inventory.held() })
        : null,
    ),
    metrics: new MetricsController(metrics, config.metrics),
    live: new LiveController(catalog, live),
    purchase: path.controller,
  };

  /**
   * The rehearsal's scratch copy of the purchase path, from the same factory as the real one: its own key,
   * sale book, gate, blacklist, tracker and queue (on RabbitMQ a queue of its own that the broker removes by
   * itself if a killed process leaves it), and the real overload guard, so that an event loop too far
   * behind sheds rehearsal requests as it would real ones.
   */
  function scratchShop(): ScratchShop {
    const key = randomBytes(16);
    const scratchLog = log.child({ rehearsal: true });
    const queueName = config.amqpUrl ? `${config.queueName}.rehearsal.${key.subarray(0, 4).toString('hex')}` : null;
    const scratchQueue = buildOrderQueue({ amqpUrl: config.amqpUrl, queueName: queueName ?? '', expiresMs: 60_000 }, scratchLog);
    // Captchas of its own, all with one answer: the real pool and the real pending captchas stay untouched.
    const captchaAnswer = 'abcde';
    const scratchPool = new CaptchaPool(
      new InlineCaptchaRenderer({ create: () => ({ text: captchaAnswer, png: REHEARSAL_PNG }) }),
      Math.max(1, config.purchase.rehearsalRequests),
      scratchLog,
      1000,
    );
    const scratch = buildPurchasePath(rehearsalSettings(pathSettings, key), {
      users: repos.users,
      blacklist: repos.blacklist,
      queue: scratchQueue,
      captchas: new CaptchaService(scratchPool, config.captcha.waitMs),
      overloaded: lag.overloaded,
      meter: new PurchaseMeter(),
      log: scratchLog,
    });
    return { ...scratch, queue: scratchQueue, queueName, captchaPool: scratchPool, captchaAnswer };
  }

  let started = false;
  let reconciler: NodeJS.Timeout | null = null;
  let rehearsal: RehearsalResult | null = null;

  /** Database, migrations, first admin, demo data, queue; then drain, rebuild and open the sales. */
  async function start(): Promise<void> {
    if (!dataSource.isInitialized) await dataSource.initialize();
    const ran = await migrate(dataSource, config.database.kind);
    if (ran.length > 0) log.info({ migrations: ran.map((m) => m.name) }, 'migrations applied');
    // Before anything is served: a cookie revoked before a restart stays revoked after it.
    await generations.load();
    if (config.admin) await accounts.ensureAdmin(config.admin.userName, config.admin.password);
    if (config.demo) {
      const demoSale = await new DemoSeeder(catalog).seedIfEmpty();
      if (demoSale !== null) log.info({ saleId: demoSale }, 'demo product and sale created; the sale opens in two minutes');
    }
    log.info({ queue: queue.kind }, queue.kind === 'memory'
      ? 'AMQP_URL not set: orders go through an IN-PROCESS queue (nothing queued survives a crash)'
      : 'orders go through RabbitMQ');
    await queue.start(); // publishing
    await writer.start();
    // Not waited for: the pool fills during the countdown; an empty pool answers CAPTCHA_BUSY, never hangs.
    void captchaPool.fill().then(() => log.info({ captchas: captchaPool.available() }, 'captcha pool full'));
    log.info({ writer: writer.where }, writer.where === 'thread' ? 'orders are written by a worker thread' : 'orders are written in the main thread');
    // One process writes what is still queued before it rebuilds the stock; an instance among several joins
    // while the others sell (the queue may never be empty) and settles its buyers in the background.
    if (!cluster) await recovery.drain();
    await recovery.rebuild();
    // Draw sales' entries back in memory; a draw whose window ended while no process ran is run now.
    await draws.rebuild();
    await draws.runDue().catch((err) => log.warn({ err: err.message }, 'due draw deferred to the next tick'));
    if (cluster) await cluster.start();
    // The port is not bound until start() returns: real shoppers cannot reach the shop before it opens.
    lag.start();
    // An instance joining while a sale is selling joins at once: the crowd is already there (the others serve it).
    const joiningLive = cluster !== null && book.all().some((w) => book.windowState(w.id, Date.now()) === 'live');
    if (joiningLive && config.purchase.rehearsalRequests > 0) log.info('a sale is selling: this instance joins without the rehearsal');
    else rehearsal = await new PurchaseRehearsal(scratchShop(), log).run(config.purchase.rehearsalRequests);
    funnel.open();
    draws.start();
    lifecycle.start();
    started = true;
    reconciler = setInterval(() => {
      recovery.reconcileUncertain(funnel).catch((err) => log.debug({ err: err.message }, 'reconcile deferred'));
    }, 2000);
    reconciler.unref();
  }

  /** Graceful: stop taking purchases, let accepted ones reach the database, then close connections. */
  async function stop(drainTimeoutMs = 10_000): Promise<void> {
    funnel.close();
    await draws.stop();
    live.stop();
    lifecycle.stop();
    lag.stop();
    if (reconciler) clearInterval(reconciler);
    if (cluster) {
      // Its own accepted orders written (by any instance's writer), then its unsold units go back.
      const drained = await until(() => tracker.pendingCount() === 0, drainTimeoutMs);
      await cluster.stop(drained);
    } else if (started) {
      await recovery.drain(drainTimeoutMs).catch((err) => log.warn({ err: err.message }, 'stopped before the queue drained'));
    }
    await writer.stop();
    await captchaPool.close();
    await queue.close();
    if (dataSource.isInitialized) await dataSource.destroy();
  }

  /** What the rehearsal before opening did; null when it was off or skipped. */
  const rehearsed = () => rehearsal;

  return { config, log, dataSource, queue, repos, services, controllers, shardCookie, writer, lag, metrics, writerStats, cluster, start, stop, rehearsed };
}

/** An instance's share of the cluster: the authority, the bus and the leased stock (docs/CLUSTER.md). */
function clusterParts(config: Config, settings: ClusterSettings, amqpUrl: string, dataSource: DataSource, log: Logger) {
  const incarnation = `${settings.instanceId}#${randomBytes(4).toString('hex')}`;
  const timings: ClusterTimings = {
    incarnation,
    leaseTtlMs: settings.leaseTtlMs,
    // The writer holds a batch up to WRITER_HOLD_MS: twice that and a second more, every order in hand is written.
    graceMs: 2 * config.writerHoldMs + 1000,
    settleMs: 2 * config.writerHoldMs + 1000,
    prepareMs: 5000,
  };
  const leases = new LeaseRepository(dataSource);
  const bus = new ClusterBus(amqpUrl, `${config.queueName}.cluster`, incarnation, log);
  let members = () => 1;
  const inventory = new LeasedInventory(
    {
      take: (saleId, leaseId, want) => leases.take(saleId, incarnation, leaseId, want, settings.leaseTtlMs),
      giveBack: (leaseId, units) => leases.giveBack(leaseId, units),
    },
    {
      bought: (sale, user) => bus.boughtHere(sale, user),
      exhausted: (sale) => bus.send({ t: 'exhausted', sale }),
      restocked: (sale) => bus.send({ t: 'restocked', sale }),
      held: (sale, units) => bus.send({ t: 'held', sale, units }),
    },
    { members: () => members(), maxLease: 1000, idleGiveBackMs: 500 },
    log,
  );
  return {
    timings,
    leases,
    bus,
    inventory,
    countMembersWith: (f: () => number) => {
      members = f;
    },
  };
}

/**
 * Applies pending migrations; on MySQL under a named lock, so that instances starting together on an empty
 * database take turns (the first creates the tables, the others find nothing to do).
 */
async function migrate(dataSource: DataSource, kind: Config['database']['kind']) {
  if (kind !== 'mysql') return dataSource.runMigrations({ transaction: 'each' });
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    const [got] = (await runner.query("SELECT GET_LOCK('flash_sale_migrations', 120) AS got")) as { got: number | null }[];
    if (Number(got?.got) !== 1) throw new Error('another instance has held the migration lock for 120 s');
    try {
      return await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query("SELECT RELEASE_LOCK('flash_sale_migrations')");
    }
  } finally {
    await runner.release();
  }
}

/** Resolves true once `done()` holds, false after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** The rehearsal's captcha picture: nobody looks at it, so the smallest PNG there is. */
const REHEARSAL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64');

/** Where captchas come from: a test's generator, a load test's file, or render threads (the shop). */
function captchaRenderer(config: Config, log: Logger, overrides: Overrides): CaptchaRenderer {
  if (overrides.captchaGenerator) return new InlineCaptchaRenderer(overrides.captchaGenerator);
  if (config.captcha.poolFile) return new FileCaptchaRenderer(config.captcha.poolFile);
  return new ThreadCaptchaRenderer(config.captcha.threads, log, overrides.captchaScript);
}
