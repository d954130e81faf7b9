// The draw on its own: the seed's commitment and the shuffle anyone can recompute, the funnel's entries during
// the window (injected clock, a fake entry store), and the draw's states across processes and a crash.
import pino from 'pino';
import { REFUSALS } from '../../src/errors';
import { commitmentOf, drawOrder, drawRank, drawWinners, drawWinnersInSlices, newDrawSeed, seedMatches } from '../../src/lib/drawShuffle';
import { FixedWindowCounter } from '../../src/lib/FixedWindowCounter';
import { TokenBucket } from '../../src/lib/TokenBucket';
import { MemoryOrderQueue } from '../../src/queue/MemoryOrderQueue';
import type { ChooseWinners, DrawRepository, DrawResult, EntryRecord } from '../../src/repositories/DrawRepository';
import type { SaleRecord } from '../../src/repositories/SaleRepository';
import { CaptchaPool, InlineCaptchaRenderer } from '../../src/services/CaptchaPool';
import { CaptchaService } from '../../src/services/CaptchaService';
import { ChallengeSeal } from '../../src/services/ChallengeSeal';
import { DrawService } from '../../src/services/DrawService';
import { OrderTracker } from '../../src/services/OrderTracker';
import { DrawEntries, PurchaseFunnel, PurchaseResult, RequestReader } from '../../src/services/PurchaseFunnel';
import { MemoryInventory, SaleBook, saleWindow } from '../../src/services/SaleBook';
import { TicketService } from '../../src/services/TicketService';
import { MemoryUserGate } from '../../src/services/UserGate';

const log = pino({ level: 'silent' });
const SALE = 3;
const OPENS = 2_000_000;
const WINDOW_S = 10;
const DRAW_AT = OPENS + WINDOW_S * 1000;

describe('the shuffle and its commitment', () => {
  const seed = 'ab'.repeat(32);

  it('when a seed is made, then its commitment is the SHA-256 of its bytes and only that seed matches it', () => {
    const s = newDrawSeed();
    expect(s.seed).toMatch(/^[0-9a-f]{64}$/);
    expect(s.commitment).toBe(commitmentOf(s.seed));
    expect(seedMatches(s.seed, s.commitment)).toBe(true);
    expect(seedMatches(newDrawSeed().seed, s.commitment)).toBe(false);
    // A known vector: SHA-256 of 32 bytes 0xab, so that anyone's recomputation can be checked against ours.
    expect(commitmentOf(seed)).toBe(require('node:crypto').createHash('sha256').update(Buffer.alloc(32, 0xab)).digest('hex'));
  });

  it('when the entries come in another order, then the draw order is the same (it depends on seed and shopper only)', () => {
    const ids = Array.from({ length: 200 }, (_, i) => i * 7 + 1);
    const shuffled = [...ids].reverse();
    expect(drawOrder(seed, shuffled)).toEqual(drawOrder(seed, ids));
    expect(drawOrder(seed, ids)).not.toEqual(ids);
    const order = drawOrder(seed, ids);
    for (let i = 1; i < order.length; i++) expect(drawRank(seed, order[i - 1]) < drawRank(seed, order[i])).toBe(true);
  });

  it('when there are fewer entries than units, then all win; otherwise exactly the units win', () => {
    expect(drawWinners(seed, [5, 9, 2], 10).sort()).toEqual([2, 5, 9]);
    expect(drawWinners(seed, Array.from({ length: 50 }, (_, i) => i + 1), 10)).toHaveLength(10);
    expect(drawWinners(seed, [], 10)).toEqual([]);
  });

  it('when drawn in slices (as the shop does), then the winners are the same as drawn at once (as the audit does)', async () => {
    const ids = Array.from({ length: 5003 }, (_, i) => i * 2 + 1);
    expect(await drawWinnersInSlices(seed, ids, 700, 1000)).toEqual(drawWinners(seed, ids, 700));
    expect(await drawWinnersInSlices(seed, ids, 10_000)).toEqual(drawWinners(seed, ids, 10_000));
    expect(await drawWinnersInSlices(seed, ids, 1)).toEqual(drawWinners(seed, ids, 1));
    expect(await drawWinnersInSlices(seed, ids, 0)).toEqual([]);
    expect(await drawWinnersInSlices(seed, [], 5)).toEqual([]);
  });

  it('when drawn with many seeds, then each entry wins about units/entries of the time', () => {
    const ids = Array.from({ length: 20 }, (_, i) => i + 1);
    const wins = new Map<number, number>();
    const runs = 4000;
    for (let r = 0; r < runs; r++) for (const w of drawWinners(newDrawSeed().seed, ids, 5)) wins.set(w, (wins.get(w) ?? 0) + 1);
    // Expected 1000 each; the binomial's standard deviation is about 27, so 850-1150 fails only on a real bias.
    for (const id of ids) {
      expect(wins.get(id)).toBeGreaterThan(850);
      expect(wins.get(id)).toBeLessThan(1150);
    }
  });
});

/** The entry store: a fake with the real one's answers (entered once, duplicate, closed once drawn). */
class FakeEntries implements DrawEntries {
  readonly rows = new Set<number>();
  closed = false;
  failing = false;
  calls = 0;
  async enter(_saleId: number, userId: number): Promise<'entered' | 'duplicate' | 'closed'> {
    this.calls += 1;
    if (this.failing) throw new Error('database unreachable');
    if (this.closed) return 'closed';
    if (this.rows.has(userId)) return 'duplicate';
    this.rows.add(userId);
    return 'entered';
  }
}

interface Req {
  user: number;
  captcha: string;
}

function funnelSetup(stock = 2) {
  let now = OPENS + 100;
  const clock = () => now;
  const book = new SaleBook(new MemoryInventory());
  book.put(saleWindow({ id: SALE, startsAt: new Date(OPENS), endsAt: new Date(OPENS + 3_600_000), stock, allocation: 'draw', drawWindowSeconds: WINDOW_S }));
  book.inventory.load(SALE, stock, []);
  book.draws.load(SALE, [], null);
  const tickets = new TicketService(Buffer.alloc(16, 1));
  const pool = new CaptchaPool(new InlineCaptchaRenderer({ create: () => ({ text: 'AbCdE', png: Buffer.alloc(8) }) }), 50, log, 1);
  const captchas = new CaptchaService(pool);
  const entries = new FakeEntries();
  const queue = new MemoryOrderQueue();
  const reader: RequestReader<Req> = {
    clientIp: (r) => `10.0.0.${r.user}`,
    isSameSite: () => true,
    sessionToken: (r) => `s-${r.user}`,
    ticket: () => '',
    captchaAnswer: (r) => r.captcha,
  };
  const funnel = new PurchaseFunnel<Req>(
    reader,
    { overloaded: () => false, bucket: new TokenBucket(1000, 1000, clock), perIp: new FixedWindowCounter(100, 60_000, OPENS) },
    book,
    { userIdFromSession: (t) => (t ? Number(t!.slice(2)) : null) },
    { isBlocked: () => false },
    new MemoryUserGate(0),
    tickets,
    captchas,
    new ChallengeSeal(Buffer.alloc(16, 2), 0),
    queue,
    new OrderTracker(),
    { record: () => undefined },
    log,
    clock,
    entries,
  );
  funnel.open();
  /** A whole attempt: the challenge, then the purchase with the right answer. */
  const attempt = async (user: number): Promise<PurchaseResult> => {
    const c = funnel.challenge(SALE, { user, captcha: '' });
    if (!c.ok || !('captchaId' in c)) return c as PurchaseResult;
    return funnel.attempt(SALE, c.path.split('/').pop()!, { user, captcha: `${c.captchaId}.AbCdE` });
  };
  return { book, entries, queue, funnel, attempt, pool, at: (t: number) => void (now = t) };
}

describe('the funnel on a draw sale', () => {
  it('when a shopper passes every gate inside the window, then the entry is written and the answer is ENTERED with the draw time', async () => {
    const t = funnelSetup();
    await t.pool.fill();
    const r = await t.attempt(11);
    expect(r).toEqual({ ok: true, entered: true, drawAt: DRAW_AT });
    expect([...t.entries.rows]).toEqual([11]);
    expect(t.book.inventory.remaining(SALE)).toBe(2); // no unit taken during the window
    expect(t.book.draws.entryState(SALE, 11)).toBe('entered');
  });

  it('when the same shopper tries again, then ALREADY_ENTERED comes from memory, without writing or reading', async () => {
    const t = funnelSetup();
    await t.pool.fill();
    await t.attempt(11);
    const calls = t.entries.calls;
    const again = t.funnel.attempt(SALE, 'whatever', { user: 11, captcha: '' });
    expect(again).toBe(REFUSALS.ALREADY_ENTERED); // synchronous: no promise, no store call
    expect(t.entries.calls).toBe(calls);
  });

  it('when another process already holds the entry, then the unique row answers ALREADY_ENTERED', async () => {
    const t = funnelSetup();
    await t.pool.fill();
    t.entries.rows.add(12);
    expect(await t.attempt(12)).toBe(REFUSALS.ALREADY_ENTERED);
  });

  it('when the entry cannot be written, then 503 ENTRY_UNAVAILABLE and the shopper may try again', async () => {
    const t = funnelSetup();
    await t.pool.fill();
    t.entries.failing = true;
    expect(await t.attempt(13)).toBe(REFUSALS.ENTRY_UNAVAILABLE);
    expect(t.book.draws.hasEntered(SALE, 13)).toBe(false);
    t.entries.failing = false;
    expect(await t.attempt(13)).toMatchObject({ ok: true, entered: true });
  });

  it('when the window has ended and the draw is not known here yet, then every attempt is DRAW_RUNNING', async () => {
    const t = funnelSetup();
    await t.pool.fill();
    t.at(DRAW_AT);
    expect(t.funnel.challenge(SALE, { user: 14, captcha: '' })).toBe(REFUSALS.DRAW_RUNNING);
  });

  it('when the draw closed the sale while the entry was on its way, then DRAW_RUNNING and no entry', async () => {
    const t = funnelSetup();
    await t.pool.fill();
    t.entries.closed = true;
    expect(await t.attempt(15)).toBe(REFUSALS.DRAW_RUNNING);
    expect(t.book.draws.hasEntered(SALE, 15)).toBe(false);
  });

  it('when the draw has run with units left, then losers and latecomers buy what is left first come', async () => {
    const t = funnelSetup(3);
    await t.pool.fill();
    await t.attempt(21);
    t.at(DRAW_AT + 1);
    // The draw's outcome as DrawService loads it: one winner (21), two units left.
    t.book.inventory.load(SALE, 2, [21]);
    t.book.draws.load(SALE, [21], [21]);
    expect(t.book.draws.entryState(SALE, 21)).toBe('won');
    expect(await t.attempt(21)).toBe(REFUSALS.ALREADY_BOUGHT);
    expect(await t.attempt(22)).toMatchObject({ ok: true, requestId: expect.any(String) });
    expect(t.book.inventory.remaining(SALE)).toBe(1);
  });
});

/** One database's draw state, shared by several processes' DrawRepository fakes: a claim only one wins. */
class FakeDrawStore {
  state: 'open' | 'drawn' = 'open';
  seed = newDrawSeed();
  remaining: number;
  entries = new Map<number, EntryRecord>();
  orders: number[] = [];
  failNextDraw = false;
  constructor(readonly stock: number, entrants: number[]) {
    this.remaining = stock;
    for (const u of entrants) this.entries.set(u, { userId: u, outcome: null });
  }
  record(): SaleRecord {
    return {
      id: SALE, productId: 1, stock: this.stock, remaining: this.remaining, priceCents: 100,
      startsAt: new Date(OPENS), endsAt: new Date(OPENS + 3_600_000), allocation: 'draw', drawWindowSeconds: WINDOW_S,
      drawCommitment: this.seed.commitment, drawSeed: this.state === 'drawn' ? this.seed.seed : null, drawState: this.state,
      drawnAt: null, drawWinners: this.state === 'drawn' ? this.orders.length : null,
    };
  }
}

class FakeDrawRepository implements Pick<DrawRepository, 'draw' | 'entriesOf' | 'countEntries'> {
  constructor(private readonly db: FakeDrawStore) {}
  async draw(_saleId: number, _now: number, choose: ChooseWinners): Promise<DrawResult | null> {
    if (this.db.state !== 'open') return null;
    // The claim first, as the conditional update does; everything after commits with it, or (a crash) nothing does.
    this.db.state = 'drawn';
    const ids = [...this.db.entries.keys()].sort((a, b) => a - b);
    const winners = await choose(this.db.seed.seed, ids, this.db.remaining);
    if (this.db.failNextDraw) {
      this.db.failNextDraw = false;
      this.db.state = 'open';
      throw new Error('connection lost before the commit');
    }
    for (const e of this.db.entries.values()) e.outcome = winners.includes(e.userId) ? 'won' : 'lost';
    this.db.orders.push(...winners);
    this.db.remaining -= winners.length;
    return { entries: ids.length, winners: winners.length };
  }
  async entriesOf(): Promise<EntryRecord[]> {
    return [...this.db.entries.values()].map((e) => ({ ...e }));
  }
  async countEntries(): Promise<number> {
    return this.db.entries.size;
  }
}

function aProcess(db: FakeDrawStore, clock: () => number) {
  const book = new SaleBook(new MemoryInventory());
  book.put(saleWindow(db.record()));
  book.inventory.load(SALE, db.stock, []);
  const service = new DrawService(
    new FakeDrawRepository(db),
    { findById: async () => db.record(), listUndrawn: async () => (db.state === 'open' ? [db.record()] : []) },
    { buyersBySale: async (ids: number[]) => new Map(ids.map((id) => [id, [...db.orders]])) },
    book,
    log,
    clock,
  );
  return { book, service };
}

describe('DrawService: the draw states', () => {
  it('when the window has not ended, then nothing is drawn; when it has, the draw runs once and the book knows the winners', async () => {
    let now = DRAW_AT - 1;
    const db = new FakeDrawStore(3, [5, 6, 7, 8, 9]);
    const p = aProcess(db, () => now);
    await p.service.rebuild();
    await p.service.runDue();
    expect(db.state).toBe('open');
    expect(p.book.drawPhase(SALE, now)).toBe('entering');
    now = DRAW_AT;
    expect(p.book.drawPhase(SALE, now)).toBe('drawing');
    await p.service.runDue();
    await p.service.runDue();
    expect(p.service.drawsRun).toBe(1);
    expect(db.orders).toHaveLength(3);
    expect(p.book.drawPhase(SALE, now)).toBe('drawn');
    expect(p.book.inventory.remaining(SALE)).toBe(0);
    const states = [5, 6, 7, 8, 9].map((u) => p.book.draws.entryState(SALE, u));
    expect(states.filter((s) => s === 'won')).toHaveLength(3);
    expect(states.filter((s) => s === 'lost')).toHaveLength(2);
    expect(new Set(db.orders)).toEqual(new Set(drawWinners(db.seed.seed, [5, 6, 7, 8, 9], 3)));
  });

  it('when two processes reach the window end together, then one draws and the other finds it drawn', async () => {
    const db = new FakeDrawStore(2, [1, 2, 3, 4]);
    const a = aProcess(db, () => DRAW_AT);
    const b = aProcess(db, () => DRAW_AT);
    await Promise.all([a.service.rebuild(), b.service.rebuild()]);
    const results = await Promise.all([a.service.draw(SALE), b.service.draw(SALE)]);
    expect(results.sort()).toEqual(['drew', 'found']);
    expect(a.service.drawsRun + b.service.drawsRun).toBe(1);
    expect(db.orders).toHaveLength(2);
    for (const p of [a, b]) expect(p.book.drawPhase(SALE, DRAW_AT)).toBe('drawn');
    for (const u of [1, 2, 3, 4]) expect(a.book.draws.entryState(SALE, u)).toBe(b.book.draws.entryState(SALE, u));
  });

  it('when the draw fails before its commit, then the sale stays open and the next tick draws it', async () => {
    const db = new FakeDrawStore(2, [1, 2, 3]);
    const p = aProcess(db, () => DRAW_AT + 5);
    await p.service.rebuild();
    db.failNextDraw = true;
    await expect(p.service.runDue()).rejects.toThrow(/before the commit/);
    expect(db.state).toBe('open');
    expect(p.book.drawPhase(SALE, DRAW_AT + 5)).toBe('drawing');
    await p.service.runDue();
    expect(db.state).toBe('drawn');
    expect(db.orders).toHaveLength(2);
  });

  it('when the shop was down past the end of the sale with its draw not run, then the start puts it back and draws it', async () => {
    const db = new FakeDrawStore(2, [1, 2, 3]);
    const book = new SaleBook(new MemoryInventory());
    const service = new DrawService(
      new FakeDrawRepository(db),
      { findById: async () => db.record(), listUndrawn: async () => (db.state === 'open' ? [db.record()] : []) },
      { buyersBySale: async (ids: number[]) => new Map(ids.map((id) => [id, [...db.orders]])) },
      book,
      log,
      () => OPENS + 7_200_000,
    );
    await service.rebuild(); // the sale table rebuilt at start holds no ended sale
    await service.runDue();
    expect(db.state).toBe('drawn');
    expect(db.orders).toHaveLength(2);
  });

  it('when a process starts after another one drew, then it loads the outcome without drawing again', async () => {
    const db = new FakeDrawStore(1, [1, 2]);
    const first = aProcess(db, () => DRAW_AT);
    await first.service.rebuild();
    await first.service.runDue();
    const restarted = aProcess(db, () => DRAW_AT + 60_000);
    await restarted.service.rebuild();
    await restarted.service.runDue();
    expect(restarted.service.drawsRun).toBe(0);
    expect(db.orders).toHaveLength(1);
    expect(restarted.book.draws.entryState(SALE, db.orders[0])).toBe('won');
  });
});
