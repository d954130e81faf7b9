// One simulated opening through the shop's real purchase path (buildPurchasePath: the funnel and every gate,
// the captchas, the sale book), the real draw (DrawRepository, DrawService) and the real order writer, on a
// SQLite file, under a simulated clock: each shopper's steps are events in time order, so ten thousand
// people over tens of seconds take a few seconds to run.
import { randomBytes } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { buildPurchasePath, purchasePathSettings } from '../../src/buildPurchasePath';
import type { Config } from '../../src/config/loadConfig';
import { MemoryOrderQueue } from '../../src/queue/MemoryOrderQueue';
import { buildOrderConsumer } from '../../src/queue/buildOrderConsumer';
import { InlineOrderWriter } from '../../src/queue/OrderWriter';
import { BlacklistRepository } from '../../src/repositories/BlacklistRepository';
import { DrawRepository } from '../../src/repositories/DrawRepository';
import { OrderRepository } from '../../src/repositories/OrderRepository';
import { ProductRepository } from '../../src/repositories/ProductRepository';
import { SaleRepository } from '../../src/repositories/SaleRepository';
import { UserRepository } from '../../src/repositories/UserRepository';
import { AuditService } from '../../src/services/AuditService';
import { CaptchaPool, InlineCaptchaRenderer } from '../../src/services/CaptchaPool';
import { CaptchaService } from '../../src/services/CaptchaService';
import { CatalogService } from '../../src/services/CatalogService';
import { DrawService } from '../../src/services/DrawService';
import { PurchaseMeter } from '../../src/services/PurchaseMeter';
import { Heap } from '../../src/lib/Heap';
import { seededRandom, planCrowd, ShopperPlan } from './crowd';

export type Mode = 'firstCome' | 'draw';

export interface RunResult {
  mode: Mode;
  seed: number;
  units: number;
  sold: number;
  botUnits: number;
  entries: number;
  botShare: number;
  headShare: number;
  advantage: number;
  auditOk: boolean;
  /** Wall time of the run, ms. */
  ms: number;
}

export interface Simulation {
  dataSource: DataSource;
  config: Config;
  /** User ids: people first, then scripts. */
  humans: number[];
  bots: number[];
}

const ANSWER = 'AbCd5';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64');

/** The timed events: the simulated clock jumps from one to the next (in order of time, then of adding). */
class Agenda {
  private readonly heap = new Heap<{ at: number; n: number; run: () => Promise<void> | void }>((a, b) => a.at < b.at || (a.at === b.at && a.n < b.n));
  private n = 0;
  add(at: number, run: () => Promise<void> | void): void {
    this.heap.push({ at, n: this.n++, run });
  }
  next(): { at: number; run: () => Promise<void> | void } | undefined {
    return this.heap.pop();
  }
}

/** A request as node:http hands it to the purchase route: a real IncomingMessage on a socket with the shopper's address. */
function requestFrom(ip: string, cookie: string): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: ip });
  const req = new IncomingMessage(socket);
  req.headers = { cookie };
  return req;
}

export async function runOpening(sim: Simulation, mode: Mode, seed: number, units: number, windowSeconds: number): Promise<RunResult> {
  const started = Date.now();
  const log = pino({ level: 'silent' });
  const random = seededRandom(seed * 2 + (mode === 'draw' ? 1 : 0));
  const opensAt = Date.UTC(2030, 0, 1) + seed * 3_600_000 * 2 + (mode === 'draw' ? 3_600_000 : 0);
  let now = opensAt - 60_000;
  const clock = () => now;

  const { dataSource, config } = sim;
  const users = new UserRepository(dataSource);
  const orders = new OrderRepository(dataSource);
  const salesRepo = new SaleRepository(dataSource);
  const draws = new DrawRepository(dataSource, orders);
  const queue = new MemoryOrderQueue();
  const pool = new CaptchaPool(new InlineCaptchaRenderer({ create: () => ({ text: ANSWER, png: PNG }) }), sim.humans.length + sim.bots.length + 1000, log, 1000);
  await pool.fill();
  const captchas = new CaptchaService(pool, config.captcha.waitMs);
  const path = buildPurchasePath(purchasePathSettings(config), {
    users,
    blacklist: new BlacklistRepository(dataSource),
    queue,
    captchas,
    overloaded: () => false,
    meter: new PurchaseMeter(),
    log,
    entries: draws,
    clock,
  });
  const consumer = buildOrderConsumer({
    dataSource,
    databaseKind: 'sqlite',
    settled: path.tracker,
    pace: path.tracker.pace,
    hold: { maxMs: 0, windowMs: 50, minPerSecond: 1000 },
    log,
  });
  const writer = new InlineOrderWriter(queue, consumer);
  await writer.start();
  const catalog = new CatalogService(new ProductRepository(dataSource), salesRepo, path.book);
  const productId = await catalog.createProduct({ name: 'Simulated phone', description: '', image: '', priceCents: 50_000 });
  const saleId = await catalog.createSale({
    productId,
    stock: units,
    priceCents: 10_000,
    startsAt: new Date(opensAt),
    endsAt: new Date(opensAt + 3_600_000),
    ...(mode === 'draw' ? { allocation: 'draw' as const, drawWindowSeconds: windowSeconds } : {}),
  });
  const drawService = new DrawService(draws, salesRepo, orders, path.book, log, clock);
  path.funnel.open();

  const plans = planCrowd({ humans: sim.humans.length, bots: sim.bots.length }, random);
  const ids = [...sim.humans, ...sim.bots];
  const isBot = new Set(sim.bots);
  const agenda = new Agenda();
  const done = new Set<number>();

  const shopper = (userId: number, plan: ShopperPlan, i: number) => {
    const req = requestFrom(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `${config.cookies.session}=${path.accounts.issueSession(userId, opensAt - 120_000)}`);
    /** Presses Buy: asks for the path and a captcha, then answers it after the shopper's time. */
    const press = () => {
      const c = path.funnel.challenge(saleId, req);
      if (!c.ok) return settle(c.code, c.retryAfterSeconds);
      if (!('captchaId' in c)) return agenda.add(now + 250, press); // sealed: only before the opening
      const buyPath = c.path.slice(c.path.lastIndexOf('/') + 1);
      agenda.add(now + plan.answerMs(), () => answer(c.captchaId, buyPath));
    };
    const answer = async (captchaId: string, buyPath: string) => {
      req.headers['x-captcha'] = `${captchaId}.${plan.mistypes() ? 'wrong' : ANSWER}`;
      const r = await path.funnel.attempt(saleId, buyPath, req);
      delete req.headers['x-captcha'];
      if (r.ok) return void done.add(userId);
      if (r.code === 'CAPTCHA_WRONG' || r.code === 'CAPTCHA_EXPIRED') return agenda.add(now + 300, press);
      settle(r.code, r.retryAfterSeconds);
    };
    /** A refusal: final ones end the shopper's try; the rest are tried again when the shop says. */
    const settle = (code: string, retryAfterSeconds?: number) => {
      if (['SOLD_OUT', 'ALREADY_BOUGHT', 'ALREADY_ENTERED', 'SALE_ENDED', 'BLOCKED'].includes(code)) return;
      agenda.add(now + Math.max(1, retryAfterSeconds ?? 2) * 1000 + (plan.bot ? 0 : 500 * random()), press);
    };
    agenda.add(opensAt + plan.pressAt, press);
  };
  plans.forEach((plan, i) => shopper(ids[i], plan, i));
  if (mode === 'draw') agenda.add(opensAt + windowSeconds * 1000, () => drawService.runDue(now));

  // Until everyone is done or an hour of the sale has passed (scripts and people stop when told sold out).
  for (let e = agenda.next(); e && e.at < opensAt + 3_600_000; e = agenda.next()) {
    now = Math.max(now, e.at);
    if (mode === 'draw' && path.book.drawPhase(saleId, now) === 'drawing') await drawService.runDue(now);
    await e.run();
  }
  await waitUntilWritten(path.tracker);
  await writer.stop();

  const buyers = (await orders.buyersBySale([saleId])).get(saleId) ?? [];
  const botUnits = buyers.filter((u) => isBot.has(u)).length;
  const entries = mode === 'draw' ? await draws.countEntries(saleId) : 0;
  const report = await new AuditService(salesRepo, orders, draws).audit({ saleId });
  const headShare = sim.bots.length / (sim.bots.length + sim.humans.length);
  const botShare = buyers.length > 0 ? botUnits / buyers.length : 0;
  await pool.close();
  return {
    mode,
    seed,
    units,
    sold: buyers.length,
    botUnits,
    entries,
    botShare,
    headShare,
    advantage: botShare / headShare,
    auditOk: report.ok,
    ms: Date.now() - started,
  };
}

async function waitUntilWritten(tracker: { pendingCount(): number }): Promise<void> {
  while (tracker.pendingCount() > 0) await new Promise((r) => setImmediate(r));
}

/** Accounts for the crowd, created once per database and reused by every run (each run has its own sale). */
export async function createCrowd(dataSource: DataSource, humans: number, bots: number): Promise<{ humans: number[]; bots: number[] }> {
  const users = new UserRepository(dataSource);
  const tag = randomBytes(3).toString('hex');
  const make = (prefix: string, n: number) =>
    users.createMany(Array.from({ length: n }, (_, i) => ({ userName: `${prefix}${tag}_${i}`, nickName: prefix, passwordHash: '!', role: 'shopper' as const })));
  return { humans: await make('h', humans), bots: await make('b', bots) };
}
