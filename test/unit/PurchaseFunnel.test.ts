// The purchase funnel alone, with hand-written fakes: the order of its gates, and what a publish's outcome
// does to the unit (accepted, surely refused, unknown until the queue is drained).
import pino from 'pino';
import { REFUSALS } from '../../src/errors';
import { FixedWindowCounter } from '../../src/lib/FixedWindowCounter';
import { TokenBucket } from '../../src/lib/TokenBucket';
import {
  BatchHandler,
  OrderMessage,
  OrderQueue,
  PublishRefusedError,
  PublishUnknownError,
} from '../../src/queue/OrderQueue';
import { CaptchaPool, InlineCaptchaRenderer } from '../../src/services/CaptchaPool';
import { CaptchaService } from '../../src/services/CaptchaService';
import { ChallengeSeal } from '../../src/services/ChallengeSeal';
import { OrderTracker } from '../../src/services/OrderTracker';
import { PurchaseFunnel, PurchaseResult, RequestReader } from '../../src/services/PurchaseFunnel';
import { RecoveryService } from '../../src/services/RecoveryService';
import { MemoryInventory, SaleBook } from '../../src/services/SaleBook';
import { TicketService } from '../../src/services/TicketService';
import { MemoryUserGate } from '../../src/services/UserGate';
import { unseal } from '../../tools/bench/journey';

const log = pino({ level: 'silent' });
const SALE = 1;
const SHOPPER = 7;
const START = 1_000_000;
const INTERVAL_MS = 10_000;
const SEAL_LEAD_MS = 60_000;

type Publish = 'confirm' | 'refuse' | 'unknown';

class FakeQueue implements OrderQueue {
  readonly kind = 'rabbitmq' as const;
  readonly published: OrderMessage[] = [];
  outcome: Publish = 'confirm';

  async start(_handler?: BatchHandler): Promise<void> {}
  async publish(message: OrderMessage): Promise<void> {
    if (this.outcome === 'refuse') throw new PublishRefusedError('broker said no');
    if (this.outcome === 'unknown') throw new PublishUnknownError('channel closed before the confirm');
    this.published.push(message);
  }
  async depth(): Promise<number> {
    return 0;
  }
  async deadLetterDepth(): Promise<number> {
    return 0;
  }
  isConnected(): boolean {
    return true;
  }
  async stopConsuming(): Promise<void> {}
  async close(): Promise<void> {}
}

/** A request that passes every gate until a test spoils one part of it. */
interface Parts {
  saleId: number;
  path: string;
  ip: string;
  sameSite: boolean;
  session: string | undefined;
  ticket: string;
  /** `<captchaId>.<answer>`, sent with the purchase instead of a ticket; '' when absent. */
  captcha: string;
}

const reader: RequestReader<Parts> = {
  clientIp: (p) => p.ip,
  isSameSite: (p) => p.sameSite,
  sessionToken: (p) => p.session,
  ticket: (p) => p.ticket,
  captchaAnswer: (p) => p.captcha,
};

function setup() {
  let now = START;
  const clock = () => now;
  let overloaded = false;
  const book = new SaleBook(new MemoryInventory());
  book.put({ id: SALE, startsAt: START - 1000, endsAt: START + 3_600_000, stock: 2 });
  book.inventory.load(SALE, 2, []);
  const tickets = new TicketService(Buffer.alloc(16, 1));
  const blocked = new Set<number>();
  const queue = new FakeQueue();
  const pool = new CaptchaPool(new InlineCaptchaRenderer({ create: () => ({ text: 'AbCdE', png: Buffer.alloc(8) }) }), 2, log, 1);
  const captchas = new CaptchaService(pool);
  const tracker = new OrderTracker();
  /** What the funnel told the abuse rules: [kind, shopper, address]. */
  const noted: [string, number, string][] = [];
  const guards = {
    overloaded: () => overloaded,
    bucket: new TokenBucket(1000, 1000, clock),
    perIp: new FixedWindowCounter(100, 60_000, START),
  };
  const funnel = new PurchaseFunnel(
    reader,
    guards,
    book,
    { userIdFromSession: (token) => (token === `session-${SHOPPER}` ? SHOPPER : token === 'session-8' ? 8 : null) },
    { isBlocked: (userId) => blocked.has(userId) },
    new MemoryUserGate(INTERVAL_MS),
    tickets,
    captchas,
    new ChallengeSeal(Buffer.alloc(16, 2), SEAL_LEAD_MS),
    queue,
    tracker,
    { record: (kind, userId, ip) => void noted.push([kind, userId, ip]) },
    log,
    clock,
  );
  funnel.open();
  const good = (userId = SHOPPER): Parts => ({
    saleId: SALE,
    path: tickets.pathFor(SALE, userId),
    ip: '10.0.0.1',
    sameSite: true,
    session: `session-${userId}`,
    ticket: tickets.issue(SALE, userId, now),
    captcha: '',
  });
  const attempt = (p: Parts) => funnel.attempt(p.saleId, p.path, p);
  return {
    book,
    tickets,
    captchas,
    pool,
    queue,
    tracker,
    funnel,
    blocked,
    noted,
    good,
    attempt,
    overload: (on: boolean) => void (overloaded = on),
    advance: (ms: number) => void (now += ms),
  };
}

const code = (r: PurchaseResult) => (r.ok ? 'ACCEPTED' : r.code);

describe('PurchaseFunnel gates', () => {
  it('when every gate passes, then the order is published and accepted with its request id', async () => {
    const t = setup();

    const result = await t.attempt(t.good());

    expect(result).toMatchObject({ ok: true });
    expect(t.queue.published).toEqual([{ requestId: (result as { requestId: string }).requestId, saleId: SALE, userId: SHOPPER, at: START }]);
    expect(t.book.inventory.remaining(SALE)).toBe(1);
  });

  it('when a gate refuses, then the answer comes synchronously, without a promise', () => {
    const t = setup();

    const result = t.attempt({ ...t.good(), session: undefined });

    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toBe(REFUSALS.NOT_LOGGED_IN);
  });

  // Each spoiler breaks one gate; with two broken, the earlier gate is the one that answers.
  const spoilers: [string, (t: ReturnType<typeof setup>, p: Parts) => Parts][] = [
    ['OVERLOADED', (t, p) => (t.overload(true), p)],
    ['CROSS_SITE', (_t, p) => ({ ...p, sameSite: false })],
    ['NOT_LOGGED_IN', (_t, p) => ({ ...p, session: 'forged' })],
    ['STARTING', (t, p) => (t.funnel.close('starting'), p)],
    ['SALE_NOT_FOUND', (_t, p) => ({ ...p, saleId: 99 })],
    ['BLOCKED', (t, p) => (t.blocked.add(SHOPPER), p)],
    ['PATH_INVALID', (_t, p) => ({ ...p, path: 'AAAAAAAAAAAAAAAA' })],
    ['TICKET_INVALID', (_t, p) => ({ ...p, ticket: 'nope' })],
  ];

  it.each(spoilers.slice(0, -1).map((s, i) => [s[0], spoilers[i + 1][0], i] as const))(
    'when both the %s and the %s gate fail, then the first answers',
    (first, _second, i) => {
      const t = setup();
      const p = spoilers[i + 1][1](t, spoilers[i][1](t, t.good()));

      expect(code(t.attempt(p) as PurchaseResult)).toBe(first);
    },
  );

  it('when the route bucket is empty, then BUSY comes before the per-IP limit and the cookie', () => {
    const t = setup();
    const bucket = new TokenBucket(1, 1, () => START);
    const funnel = new PurchaseFunnel(
      reader,
      { overloaded: () => false, bucket, perIp: new FixedWindowCounter(0, 60_000, START) },
      t.book,
      { userIdFromSession: () => null },
      { isBlocked: () => false },
      new MemoryUserGate(0),
      t.tickets,
      t.captchas,
      new ChallengeSeal(Buffer.alloc(16, 2), SEAL_LEAD_MS),
      t.queue,
      t.tracker,
      { record: () => undefined },
      log,
      () => START,
    );
    funnel.open();

    const p = t.good();
    expect(code(funnel.attempt(p.saleId, p.path, p) as PurchaseResult)).toBe('IP_RATE_LIMITED');
    expect(code(funnel.attempt(p.saleId, p.path, p) as PurchaseResult)).toBe('BUSY');
  });

  it('when the sale is sold out, then SOLD_OUT is answered even without a login cookie', () => {
    const t = setup();
    t.book.inventory.load(SALE, 0, []);

    expect(code(t.attempt({ ...t.good(), session: undefined }) as PurchaseResult)).toBe('SOLD_OUT');
  });

  it('when the sale has not started or has ended, then NOT_STARTED or SALE_ENDED', () => {
    const t = setup();
    t.book.put({ id: SALE, startsAt: START + 1000, endsAt: START + 2000, stock: 2 });

    expect(code(t.attempt(t.good()) as PurchaseResult)).toBe('NOT_STARTED');
    t.advance(2000);
    expect(code(t.attempt(t.good()) as PurchaseResult)).toBe('SALE_ENDED');
  });

  it('when the shopper tries again within the interval, then TOO_FAST with the seconds left, and the ticket is not spent', async () => {
    const t = setup();
    await t.attempt({ ...t.good(), path: 'AAAAAAAAAAAAAAAA' }); // a refused attempt still counts
    t.advance(4000);
    const parts = t.good();

    const result = t.attempt(parts) as PurchaseResult;

    expect(result).toMatchObject({ code: 'TOO_FAST', retryAfterSeconds: 6 });
    expect(t.noted).toEqual([['too_fast', SHOPPER, '10.0.0.1']]);
    t.advance(INTERVAL_MS);
    expect(await t.attempt(parts)).toMatchObject({ ok: true });
    expect(t.noted).toHaveLength(1);
  });

  it('when a request of the shopper is still being published, then a second one hears ALREADY_BOUGHT', async () => {
    const t = setup();
    const first = t.attempt(t.good());

    expect(code(t.attempt(t.good()) as PurchaseResult)).toBe('ALREADY_BOUGHT');
    expect(await first).toMatchObject({ ok: true });
  });

  it('when the shopper has bought, then ALREADY_BOUGHT before the pacing gate', async () => {
    const t = setup();
    await t.attempt(t.good());

    expect(code(t.attempt(t.good()) as PurchaseResult)).toBe('ALREADY_BOUGHT');
  });

  it('when a ticket is used twice, then TICKET_USED', async () => {
    const t = setup();
    const parts = t.good();
    await t.attempt({ ...parts, path: 'AAAAAAAAAAAAAAAA', ticket: parts.ticket });
    t.advance(INTERVAL_MS);
    // The path was wrong: the ticket was never looked at, so it is still good.
    expect(await t.attempt(parts)).toMatchObject({ ok: true });
    t.advance(INTERVAL_MS);
    t.book.inventory.release(SALE, SHOPPER);

    expect(code(t.attempt(parts) as PurchaseResult)).toBe('TICKET_USED');
  });

  it('when the shop is stopping, then STOPPING', () => {
    const t = setup();
    t.funnel.close('stopping');

    expect(t.attempt(t.good())).toBe(REFUSALS.STOPPING);
  });
});

describe('PurchaseFunnel publish outcomes', () => {
  it('when the broker surely refused the order, then 503 and the unit and the slot go back', async () => {
    const t = setup();
    t.queue.outcome = 'refuse';

    const result = await t.attempt(t.good());

    expect(result).toBe(REFUSALS.QUEUE_UNAVAILABLE);
    expect(t.book.inventory.remaining(SALE)).toBe(2);
    expect(t.book.inventory.hasBought(SALE, SHOPPER)).toBe(false);
    expect(t.tracker.pendingCount()).toBe(0);
  });

  it('when the confirm is lost, then 503 with the request id and the unit stays reserved', async () => {
    const t = setup();
    t.queue.outcome = 'unknown';

    const result = await t.attempt(t.good());

    expect(result).toMatchObject({ ok: false, status: 503, code: 'QUEUE_UNAVAILABLE' });
    expect(!result.ok && result.requestId).toBeTruthy();
    expect(t.book.inventory.remaining(SALE)).toBe(1);
    expect(t.funnel.uncertainRequests()).toHaveLength(1);
  });

  function recovery(t: ReturnType<typeof setup>, written: Set<string>) {
    return new RecoveryService(
      t.queue,
      { busy: () => false },
      { listEndingAfter: async () => [] },
      { findByRequestId: async (id) => (written.has(id) ? { id: 1, requestId: id, saleId: SALE, userId: SHOPPER, status: 'confirmed', createdAt: new Date() } : null), buyersBySale: async () => new Map() },
      t.book,
      { load: async () => undefined },
      log,
    );
  }

  it('when the drained queue never wrote an unknown publish, then the unit goes back and the request is failed', async () => {
    const t = setup();
    t.queue.outcome = 'unknown';
    const result = await t.attempt(t.good());

    await recovery(t, new Set()).reconcileUncertain(t.funnel);

    expect(t.book.inventory.remaining(SALE)).toBe(2);
    expect(t.book.inventory.hasBought(SALE, SHOPPER)).toBe(false);
    expect(t.tracker.get(result.ok ? '' : result.requestId!)?.state).toBe('failed');
    expect(t.funnel.uncertainRequests()).toHaveLength(0);
  });

  it('when an unknown publish did arrive and was written, then the unit stays sold', async () => {
    const t = setup();
    t.queue.outcome = 'unknown';
    const result = await t.attempt(t.good());

    await recovery(t, new Set([result.ok ? '' : result.requestId!])).reconcileUncertain(t.funnel);

    expect(t.book.inventory.remaining(SALE)).toBe(1);
    expect(t.book.inventory.hasBought(SALE, SHOPPER)).toBe(true);
  });
});

describe('PurchaseFunnel challenge and answer-in-the-purchase', () => {
  it('when the sale opens later than the seal\'s lead, then the challenge is NOT_STARTED and hands out no path and no captcha', async () => {
    const t = setup();
    await t.pool.fill();
    t.book.put({ id: SALE, startsAt: START + SEAL_LEAD_MS + 1, endsAt: START + 2 * SEAL_LEAD_MS, stock: 2 });

    expect(t.funnel.challenge(SALE, t.good())).toBe(REFUSALS.NOT_STARTED);
    expect(t.pool.available()).toBe(2);
  });

  it('when the sale opens within the seal\'s lead, then the challenge comes sealed, and the key that opens it only from the opening on', async () => {
    const t = setup();
    await t.pool.fill();
    const opensAt = START + SEAL_LEAD_MS;
    t.book.put({ id: SALE, startsAt: opensAt, endsAt: opensAt + 60_000, stock: 2 });

    const c = t.funnel.challenge(SALE, t.good());
    const early = t.funnel.openingKey(SALE);
    t.advance(SEAL_LEAD_MS);
    const key = t.funnel.openingKey(SALE);

    expect(c).toEqual({ ok: true, sealed: expect.any(String), opensAt });
    expect(early).toMatchObject({ ok: false, code: 'NOT_STARTED', retryAfterSeconds: SEAL_LEAD_MS / 1000 });
    if (!c.ok || !('sealed' in c) || !key.ok) throw new Error('expected a sealed challenge and a key');
    expect(unseal(c.sealed, key.key)).toEqual({
      ok: true,
      path: `/api/sales/${SALE}/buy/${t.tickets.pathFor(SALE, SHOPPER)}`,
      captchaId: expect.any(String),
      image: expect.stringMatching(/^data:image\/png;base64,/),
      answerAfter: opensAt,
      expiresAt: opensAt + t.captchas.ttlMs,
    });
  });

  it('when a sealed challenge is answered, then not before the opening, and from it on it buys', async () => {
    const t = setup();
    await t.pool.fill();
    const opensAt = START + 1000;
    t.book.put({ id: SALE, startsAt: opensAt, endsAt: opensAt + 60_000, stock: 2 });
    const c = t.funnel.challenge(SALE, t.good());
    if (!c.ok || !('sealed' in c)) throw new Error('expected a sealed challenge');
    const key = t.funnel.openingKey(SALE);
    const early = await t.attempt({ ...t.good(), ticket: '', captcha: 'anything.abcde' });
    t.advance(1000);
    const opened = unseal(c.sealed, (t.funnel.openingKey(SALE) as { key: string }).key);

    const bought = await t.attempt({ ...t.good(), ticket: '', captcha: `${String(opened.captchaId)}.abcde` });

    expect(key).toMatchObject({ code: 'NOT_STARTED' });
    expect(code(early)).toBe('NOT_STARTED');
    expect(code(bought)).toBe('ACCEPTED');
  });

  it('when the sale\'s start moves, then the key changes: what was sealed for the old opening cannot be opened', () => {
    const seal = new ChallengeSeal(Buffer.alloc(16, 2), SEAL_LEAD_MS);
    const sealed = seal.seal(SALE, START, '{"x":1}');

    expect(unseal(sealed, seal.key(SALE, START).toString('base64'))).toEqual({ x: 1 });
    expect(() => unseal(sealed, seal.key(SALE, START + 1).toString('base64'))).toThrow();
    expect(new ChallengeSeal(Buffer.alloc(16, 2), 0).key(SALE, START)).toEqual(seal.key(SALE, START));
    expect(seal.covers(START, START - SEAL_LEAD_MS)).toBe(true);
    expect(seal.covers(START, START - SEAL_LEAD_MS - 1)).toBe(false);
    expect(seal.covers(START, START)).toBe(false);
  });

  it('when the sale is live, then the challenge gives the secret path and a captcha in one answer', async () => {
    const t = setup();
    await t.pool.fill();

    const c = t.funnel.challenge(SALE, t.good());

    expect(c).toMatchObject({ ok: true, path: `/api/sales/${SALE}/buy/${t.tickets.pathFor(SALE, SHOPPER)}`, image: expect.stringMatching(/^data:image\/png;base64,/) });
  });

  it('when the pool is empty, then CAPTCHA_BUSY at once, with Retry-After', () => {
    const t = setup(); // never filled

    expect(t.funnel.challenge(SALE, t.good())).toMatchObject({ status: 503, code: 'CAPTCHA_BUSY', retryAfterSeconds: 1 });
  });

  async function challenged(t: ReturnType<typeof setup>): Promise<string> {
    await t.pool.fill();
    const c = t.funnel.challenge(SALE, t.good());
    if (!c.ok) throw new Error(c.code);
    if (!('captchaId' in c)) throw new Error('sealed');
    return c.captchaId;
  }

  it('when the right answer comes with the purchase (any case), then it is accepted without a ticket', async () => {
    const t = setup();
    const id = await challenged(t);

    const result = await t.attempt({ ...t.good(), ticket: '', captcha: `${id}.abcde` });

    expect(result).toMatchObject({ ok: true });
  });

  it('when the answer is wrong, then CAPTCHA_WRONG, and the shopper may answer again at once (the try is not spent)', async () => {
    const t = setup();
    const id = await challenged(t);

    const wrong = t.attempt({ ...t.good(), ticket: '', captcha: `${id}.abcdx` });
    const right = await t.attempt({ ...t.good(), ticket: '', captcha: `${id}.AbCdE` });

    expect(wrong).toBe(REFUSALS.CAPTCHA_WRONG);
    expect(right).toMatchObject({ ok: true });
    expect(t.noted).toEqual([['captcha_wrong', SHOPPER, '10.0.0.1']]);
  });

  it('when three answers are wrong, then the captcha is spent: CAPTCHA_EXPIRED even for the right one', async () => {
    const t = setup();
    const id = await challenged(t);
    for (let i = 0; i < 3; i++) t.attempt({ ...t.good(), ticket: '', captcha: `${id}.wrong` });

    expect(t.attempt({ ...t.good(), ticket: '', captcha: `${id}.abcde` })).toBe(REFUSALS.CAPTCHA_EXPIRED);
  });

  it('when a solved captcha is sent again, then CAPTCHA_EXPIRED: a captcha buys one attempt', async () => {
    const t = setup();
    const id = await challenged(t);
    await t.attempt({ ...t.good(), ticket: '', captcha: `${id}.abcde` });
    t.book.inventory.release(SALE, SHOPPER);
    t.advance(INTERVAL_MS);

    expect(t.attempt({ ...t.good(), ticket: '', captcha: `${id}.abcde` })).toBe(REFUSALS.CAPTCHA_EXPIRED);
  });

  it('when the answer is right but the shopper is paced, then TOO_FAST and the captcha stays good for the next try', async () => {
    const t = setup();
    await t.attempt({ ...t.good(), path: 'AAAAAAAAAAAAAAAA' }); // spends the try
    const id = await challenged(t);

    expect(t.attempt({ ...t.good(), ticket: '', captcha: `${id}.abcde` })).toMatchObject({ code: 'TOO_FAST' });
    t.advance(INTERVAL_MS);
    expect(await t.attempt({ ...t.good(), ticket: '', captcha: `${id}.abcde` })).toMatchObject({ ok: true });
  });

  it('when a shopper who cannot see the picture takes the check without one, then an empty answer buys, but only after the wait', async () => {
    const t = setup();
    const c = t.funnel.challenge(SALE, t.good(), true);
    if (!c.ok) throw new Error(c.code);
    if (!('captchaId' in c)) throw new Error('sealed');

    const early = t.attempt({ ...t.good(), ticket: '', captcha: `${c.captchaId}.` });
    t.advance(c.answerAfter - START);
    const onTime = await t.attempt({ ...t.good(), ticket: '', captcha: `${c.captchaId}.` });

    expect(c).toMatchObject({ image: null, answerAfter: START + 8000 });
    expect(early).toBe(REFUSALS.CAPTCHA_EARLY);
    expect(onTime).toMatchObject({ ok: true });
  });

  it('when a shopper asks for a new captcha, then the old one is void: one captcha per shopper and sale', async () => {
    const t = setup();
    const first = await challenged(t);
    const second = await challenged(t);

    expect(t.attempt({ ...t.good(), ticket: '', captcha: `${first}.abcde` })).toBe(REFUSALS.CAPTCHA_EXPIRED);
    expect(await t.attempt({ ...t.good(), ticket: '', captcha: `${second}.abcde` })).toMatchObject({ ok: true });
  });

  it('when a shopper asks for more than 20 new captchas in a minute, then CAPTCHA_RATE_LIMITED: one shopper cannot drain the pool', async () => {
    const t = setup();
    for (let i = 0; i < 20; i++) await challenged(t);
    await t.pool.fill();

    expect(t.funnel.challenge(SALE, t.good())).toMatchObject({ status: 429, code: 'CAPTCHA_RATE_LIMITED' });
    expect(t.funnel.challenge(SALE, t.good(), true)).toMatchObject({ code: 'CAPTCHA_RATE_LIMITED' });
    expect(t.pool.available()).toBe(2);
  });
});

