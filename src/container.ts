// Composition root: the one place that builds repositories, services and controllers and wires them.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import pino, { Logger } from 'pino';
import proxyAddr from 'proxy-addr';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../ormconfig';
import type { Config } from './config/loadConfig';
import { AdminController } from './controllers/AdminController';
import { HealthController } from './controllers/HealthController';
import { OrderController } from './controllers/OrderController';
import { PurchaseController, PurchaseGuards } from './controllers/PurchaseController';
import { PurchaseRehearsal, RehearsalResult } from './controllers/PurchaseRehearsal';
import { SaleController } from './controllers/SaleController';
import { UserController } from './controllers/UserController';
import { CookieCipher } from './lib/CookieCipher';
import { FixedWindowCounter } from './lib/FixedWindowCounter';
import { LagMonitor } from './lib/LagMonitor';
import { TokenBucket } from './lib/TokenBucket';
import { MemoryOrderQueue } from './queue/MemoryOrderQueue';
import { buildOrderConsumer } from './queue/buildOrderConsumer';
import type { OrderQueue } from './queue/OrderQueue';
import { InlineOrderWriter, OrderWriter } from './queue/OrderWriter';
import { RabbitOrderQueue } from './queue/RabbitOrderQueue';
import { ThreadOrderWriter, ThreadScript } from './queue/ThreadOrderWriter';
import { DEFAULT_HOLD, HoldSettings } from './queue/WriterHold';
import { BlacklistRepository } from './repositories/BlacklistRepository';
import { HealthRepository } from './repositories/HealthRepository';
import { OrderRepository } from './repositories/OrderRepository';
import { ProductRepository } from './repositories/ProductRepository';
import { SaleRepository } from './repositories/SaleRepository';
import { UserRepository } from './repositories/UserRepository';
import { AccountService } from './services/AccountService';
import { BlacklistService } from './services/BlacklistService';
import { CaptchaGenerator, CaptchaService, svgCaptchaGenerator } from './services/CaptchaService';
import { CatalogService } from './services/CatalogService';
import { DemoSeeder } from './services/DemoSeeder';
import { OrderService } from './services/OrderService';
import { OrderTracker } from './services/OrderTracker';
import { PurchaseService } from './services/PurchaseService';
import { RecoveryService } from './services/RecoveryService';
import { MemoryInventory, SaleBook } from './services/SaleBook';
import { TicketService } from './services/TicketService';
import { MemoryUserGate } from './services/UserGate';

export interface Overrides {
  logger?: Logger;
  captchaGenerator?: CaptchaGenerator;
  queue?: OrderQueue;
  dataSource?: DataSource;
  /** The order writer thread's entry (tests run it from TypeScript). */
  writerScript?: ThreadScript;
  /** The writer's hold beyond WRITER_HOLD_MS (tests widen its window). */
  writerHold?: Partial<HoldSettings>;
}

export type Container = ReturnType<typeof buildContainer>;

export function buildContainer(config: Config, overrides: Overrides = {}) {
  const log = overrides.logger ?? pino({ level: config.logLevel, base: undefined });
  const dataSource = overrides.dataSource ?? createDataSource(config.database);
  const queue: OrderQueue =
    overrides.queue ??
    (config.amqpUrl
      ? new RabbitOrderQueue({ url: config.amqpUrl, queue: config.queueName }, log)
      : new MemoryOrderQueue());

  const repos = {
    users: new UserRepository(dataSource),
    products: new ProductRepository(dataSource),
    sales: new SaleRepository(dataSource),
    orders: new OrderRepository(dataSource),
    blacklist: new BlacklistRepository(dataSource),
    health: new HealthRepository(dataSource, config.database.kind),
  };

  const cipher = new CookieCipher(config.cookieKeys);
  const book = new SaleBook(new MemoryInventory());
  const tracker = new OrderTracker();
  const tickets = new TicketService(config.cookieKeys[0]);
  const captchas = new CaptchaService(overrides.captchaGenerator ?? svgCaptchaGenerator);
  const accounts = new AccountService(repos.users, cipher, config.sessionTtlMs);
  const blacklist = new BlacklistService(repos.blacklist);
  const catalog = new CatalogService(repos.products, repos.sales, book);
  const orders = new OrderService(repos.orders, tracker);
  const purchases = new PurchaseService(
    book,
    new MemoryUserGate(config.purchase.userIntervalMs),
    blacklist,
    tickets,
    queue,
    tracker,
    log,
  );
  // Only a broker's queue holds orders safely while the writer waits: the in-process one loses them in a crash.
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
          tracker,
          log,
          overrides.writerScript,
        )
      : new InlineOrderWriter(
          queue,
          buildOrderConsumer({ dataSource, databaseKind: config.database.kind, settled: tracker, pace: tracker.pace, hold, log }),
        );
  const recovery = new RecoveryService(queue, writer, repos.sales, repos.orders, book, blacklist, log);
  const lag = new LagMonitor(config.purchase.lagThresholdMs);

  const services = { accounts, blacklist, catalog, orders, purchases, captchas, tickets, tracker, book, recovery };

  const controllers = {
    users: new UserController(accounts, config.sessionTtlMs),
    sales: new SaleController(catalog, book, captchas, tickets),
    orders: new OrderController(orders, catalog),
    admin: new AdminController(catalog, orders, blacklist, accounts),
    health: new HealthController(repos.health, queue, purchases, writer),
    purchase: new PurchaseController(purchases, accounts, {
      bucket: new TokenBucket(config.purchase.bucketPerSecond, config.purchase.bucketCapacity),
      perIp: new FixedWindowCounter(config.purchase.ipLimit, config.purchase.ipWindowMs),
      overloaded: lag.overloaded,
      clientIp: clientIpFunction(config.trustProxy),
    }),
  };

  /**
   * A scratch copy of the purchase path for the rehearsal before opening: the same classes as the real one,
   * with their own key, sale book, gate, blacklist, tracker and queue (on RabbitMQ a queue of its own, removed
   * afterwards), and guards that never refuse but for the real overload guard (an event loop too far behind
   * sheds rehearsal requests as it would real ones). Functions the route calls are the real ones where they
   * hold no state of their own, and every object is of the same shape as its real twin, so that V8 does not
   * throw away at the opening what it compiled here.
   */
  function scratchShop() {
    const key = randomBytes(16);
    const scratchLog = log.child({ rehearsal: true });
    const scratchBook = new SaleBook(new MemoryInventory());
    const scratchTickets = new TicketService(key);
    const scratchAccounts = new AccountService(repos.users, new CookieCipher([key]), config.sessionTtlMs);
    // A name of this run's own, and queues the broker removes by itself if a killed process leaves them.
    const scratchName = config.amqpUrl ? `${config.queueName}.rehearsal.${key.subarray(0, 4).toString('hex')}` : null;
    const scratchQueue = config.amqpUrl
      ? new RabbitOrderQueue({ url: config.amqpUrl, queue: scratchName!, expiresMs: 60_000 }, scratchLog)
      : new MemoryOrderQueue();
    const scratchPurchases = new PurchaseService(
      scratchBook,
      new MemoryUserGate(config.purchase.userIntervalMs),
      new BlacklistService(repos.blacklist),
      scratchTickets,
      scratchQueue,
      new OrderTracker(),
      scratchLog,
    );
    const guards: PurchaseGuards = {
      // Large enough never to refuse, small enough to be the same kind of number as the real limits.
      bucket: new TokenBucket(1_000_000, 1_000_000),
      perIp: new FixedWindowCounter(1_000_000_000, config.purchase.ipWindowMs),
      // The real overload guard itself, running since before the rehearsal: the same function the real
      // route calls, so the code compiled here is the code the opening runs.
      overloaded: lag.overloaded,
      clientIp: clientIpFunction(false),
    };
    return {
      controller: new PurchaseController(scratchPurchases, scratchAccounts, guards),
      purchases: scratchPurchases,
      accounts: scratchAccounts,
      tickets: scratchTickets,
      book: scratchBook,
      queue: scratchQueue,
      queueName: scratchName,
    };
  }

  let started = false;
  let reconciler: NodeJS.Timeout | null = null;
  let rehearsal: RehearsalResult | null = null;

  /** Database, migrations, first admin, demo data, queue; then drain, rebuild and open the sales. */
  async function start(): Promise<void> {
    if (!dataSource.isInitialized) await dataSource.initialize();
    const ran = await dataSource.runMigrations({ transaction: 'each' });
    if (ran.length > 0) log.info({ migrations: ran.map((m) => m.name) }, 'migrations applied');
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
    log.info({ writer: writer.where }, writer.where === 'thread' ? 'orders are written by a worker thread' : 'orders are written in the main thread');
    await recovery.drain();
    await recovery.rebuild();
    // The port is not bound until start() returns: real shoppers cannot reach the shop before it opens.
    lag.start();
    rehearsal = await new PurchaseRehearsal(scratchShop(), log).run(config.purchase.rehearsalRequests);
    purchases.open();
    started = true;
    reconciler = setInterval(() => {
      recovery.reconcileUncertain(purchases).catch((err) => log.debug({ err: err.message }, 'reconcile deferred'));
    }, 2000);
    reconciler.unref();
  }

  /** Graceful: stop taking purchases, let accepted ones reach the database, then close connections. */
  async function stop(drainTimeoutMs = 10_000): Promise<void> {
    purchases.close();
    lag.stop();
    if (reconciler) clearInterval(reconciler);
    if (started) await recovery.drain(drainTimeoutMs).catch((err) => log.warn({ err: err.message }, 'stopped before the queue drained'));
    await writer.stop();
    await queue.close();
    if (dataSource.isInitialized) await dataSource.destroy();
  }

  /** What the rehearsal before opening did; null when it was off or skipped. */
  const rehearsed = () => rehearsal;

  return { config, log, dataSource, queue, repos, services, controllers, writer, lag, start, stop, rehearsed };
}

/** The peer's address; one function for every caller, so the purchase route meets one call target. */
const socketAddress = (req: IncomingMessage): string => req.socket.remoteAddress ?? '';

/** Like Express's req.ip under the same TRUST_PROXY setting; with no proxy trusted, just the socket's peer. */
function clientIpFunction(trust: boolean | number): (req: IncomingMessage) => string {
  if (trust === false) return socketAddress;
  const trusted = trust === true ? () => true : (_addr: string, i: number) => i < trust;
  return (req) => proxyAddr(req, trusted);
}
