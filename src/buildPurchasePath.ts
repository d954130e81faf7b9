// The purchase path's object graph, built in one place: the container builds the shop's from it, and the
// rehearsal before opening builds its scratch copy from it too. V8 keeps the machine code it compiled for
// the rehearsal only if the real objects have the same shapes (same classes, same fields in the same order,
// numbers of the same kinds); building both here makes that hold by construction, and
// test/unit/purchasePath.test.ts fails if it ever stops holding.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { AbuseRules, Config } from './config/loadConfig';
import { httpRequestReader, PurchaseController } from './controllers/PurchaseController';
import { clientIpFunction } from './lib/clientIp';
import { CookieCipher } from './lib/CookieCipher';
import { FixedWindowCounter } from './lib/FixedWindowCounter';
import { originCheck } from './lib/originCheck';
import type { Histogram } from './lib/Histogram';
import { TokenBucket } from './lib/TokenBucket';
import { MemoryOrderQueue } from './queue/MemoryOrderQueue';
import type { OrderQueue } from './queue/OrderQueue';
import { RabbitOrderQueue } from './queue/RabbitOrderQueue';
import type { BlacklistRepository } from './repositories/BlacklistRepository';
import type { UserRepository } from './repositories/UserRepository';
import { AbuseMonitor } from './services/AbuseMonitor';
import { AccountService } from './services/AccountService';
import { BlacklistService } from './services/BlacklistService';
import type { CaptchaService } from './services/CaptchaService';
import { ChallengeSeal } from './services/ChallengeSeal';
import { OrderTracker } from './services/OrderTracker';
import { type DrawEntries, PurchaseFunnel } from './services/PurchaseFunnel';
import type { PurchaseMeter } from './services/PurchaseMeter';
import { type Inventory, MemoryInventory, SaleBook } from './services/SaleBook';
import { StoredSessionGenerations } from './services/SessionGenerations';
import { TicketService } from './services/TicketService';
import { MemoryUserGate } from './services/UserGate';

export interface PurchasePathSettings {
  /** Cookie keys: the first seals login cookies and keys tickets and purchase paths; all open cookies. */
  keys: Buffer[];
  sessionTtlMs: number;
  userIntervalMs: number;
  bucketPerSecond: number;
  bucketCapacity: number;
  ipLimit: number;
  ipWindowMs: number;
  trustProxy: boolean | number;
  /** How long before an opening the challenges are handed out sealed (0: only from the opening on). */
  sealLeadMs: number;
  /** The login cookie's name, and whether the site is served over https (for the Origin check). */
  sessionCookie: string;
  secure: boolean;
  /** The automatic blacklist's rules (off in the rehearsal's copy, which must never write one). */
  abuse: AbuseRules;
}

/** The shop's purchase path settings, from its configuration. */
export function purchasePathSettings(config: Config): PurchasePathSettings {
  return {
    keys: config.cookieKeys,
    sessionTtlMs: config.sessionTtlMs,
    userIntervalMs: config.purchase.userIntervalMs,
    bucketPerSecond: config.purchase.bucketPerSecond,
    bucketCapacity: config.purchase.bucketCapacity,
    ipLimit: config.purchase.ipLimit,
    ipWindowMs: config.purchase.ipWindowMs,
    trustProxy: config.trustProxy,
    sealLeadMs: config.captcha.sealLeadMs,
    sessionCookie: config.cookies.session,
    secure: config.cookies.secure,
    abuse: config.abuse,
  };
}

export interface PurchasePathParts {
  users: UserRepository;
  blacklist: BlacklistRepository;
  queue: OrderQueue;
  /** The captchas handed out and checked (the rehearsal's copy has its own). */
  captchas: CaptchaService;
  /** The overload guard: the one running LagMonitor's function, shared by the shop and its rehearsal. */
  overloaded: () => boolean;
  /** Counts the purchase route's answers (the rehearsal's copy has its own, never read). */
  meter: PurchaseMeter;
  log: Logger;
  /** The stock: the whole of it in memory (the default), or this instance's leased slice of it. */
  inventory?: Inventory;
  /** Where draw entries are written (none in the rehearsal's copy, which sells no draw sale). */
  entries?: DrawEntries;
  /** The funnel's clock (a simulation runs it on simulated time). */
  clock?: () => number;
}

export type PurchasePath = ReturnType<typeof buildPurchasePath>;

export function buildPurchasePath(s: PurchasePathSettings, p: PurchasePathParts) {
  const book = new SaleBook(p.inventory ?? new MemoryInventory());
  const tickets = new TicketService(s.keys[0]);
  const generations = new StoredSessionGenerations(p.users, s.sessionTtlMs);
  const accounts = new AccountService(p.users, new CookieCipher(s.keys), s.sessionTtlMs, generations);
  const blacklist = new BlacklistService(p.blacklist, p.log);
  const abuse = new AbuseMonitor(s.abuse, blacklist, p.log);
  const tracker = new OrderTracker();
  const guards = {
    overloaded: p.overloaded,
    bucket: new TokenBucket(s.bucketPerSecond, s.bucketCapacity),
    perIp: new FixedWindowCounter(s.ipLimit, s.ipWindowMs),
  };
  const reader = httpRequestReader(clientIpFunction(s.trustProxy), s.sessionCookie, originCheck(s));
  const gate = new MemoryUserGate(s.userIntervalMs);
  const seal = new ChallengeSeal(s.keys[0], s.sealLeadMs);
  const funnel = new PurchaseFunnel<IncomingMessage>(reader, guards, book, accounts, blacklist, gate, tickets, p.captchas, seal, p.queue, tracker, abuse, p.log, p.clock, p.entries);
  const controller = new PurchaseController(funnel, { read: reader, accounts, tracker }, p.meter);
  return { book, tickets, generations, accounts, blacklist, abuse, tracker, funnel, controller, queue: p.queue };
}

/**
 * The queue the purchase path publishes to: RabbitMQ when a URL is set, else the in-process queue.
 * `expiresMs` lets the broker remove a scratch queue by itself if a killed process leaves it behind.
 */
export function buildOrderQueue(
  q: { amqpUrl: string | null; queueName: string; expiresMs?: number },
  log: Logger,
  confirmLatency?: Histogram,
): RabbitOrderQueue | MemoryOrderQueue {
  return q.amqpUrl ? new RabbitOrderQueue({ url: q.amqpUrl, queue: q.queueName, expiresMs: q.expiresMs }, log, confirmLatency) : new MemoryOrderQueue();
}

/**
 * The settings of the rehearsal's scratch copy: the shop's own, but for a key of its own and guards that
 * never refuse (large limits, of the same kind of number as the real ones).
 */
export function rehearsalSettings(shop: PurchasePathSettings, key: Buffer): PurchasePathSettings {
  return {
    ...shop,
    keys: [key],
    bucketPerSecond: 1_000_000,
    bucketCapacity: 1_000_000,
    ipLimit: 1_000_000_000,
    abuse: { ...shop.abuse, captchaWrong: 0, tooFast: 0, ipCaptchaWrong: 0, ipTooFast: 0 },
  };
}
