// The purchase funnel: every gate a purchase passes, in order, cheapest first, read top to bottom in
// attempt(). Nothing on the way reads the database; most requests are refused before any await.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { REFUSALS, Refusal } from '../errors';
import type { FixedWindowCounter } from '../lib/FixedWindowCounter';
import type { TokenBucket } from '../lib/TokenBucket';
import { OrderQueue, PublishUnknownError } from '../queue/OrderQueue';
import type { AbuseMonitor } from './AbuseMonitor';
import type { AccountService } from './AccountService';
import type { BlacklistService } from './BlacklistService';
import type { CaptchaService } from './CaptchaService';
import type { ChallengeSeal } from './ChallengeSeal';
import type { OrderTracker } from './OrderTracker';
import type { SaleBook } from './SaleBook';
import type { TicketService } from './TicketService';
import type { UserGate } from './UserGate';

/**
 * How the funnel reads the parts of a transport's request (R: node:http's IncomingMessage in the shop). Each
 * part is read only when a gate asks for it, so a request refused early never pays for parsing the rest;
 * and one reader serves every request, so reading allocates nothing.
 */
export interface RequestReader<R> {
  clientIp(req: R): string;
  /** The request's Origin is this shop (or absent). */
  isSameSite(req: R): boolean;
  /** The login cookie's value, if any. */
  sessionToken(req: R): string | undefined;
  /** The single-use purchase ticket the captcha was exchanged for ('' when missing). */
  ticket(req: R): string;
  /** The captcha's id and answer sent with the purchase, `<captchaId>.<answer>` ('' when missing). */
  captchaAnswer(req: R): string;
}

/** The route's guards: they keep the shop up under load and know nothing of the shopper. */
export interface RouteGuards {
  /** True while the event loop is too far behind to take more work. */
  overloaded: () => boolean;
  bucket: TokenBucket;
  perIp: FixedWindowCounter;
}

export interface Acceptance {
  ok: true;
  requestId: string;
}

/** A draw sale's attempt inside its window: the entry is written; the draw runs at `drawAt`. */
export interface Entry {
  ok: true;
  entered: true;
  drawAt: number;
}

export type PurchaseResult = Acceptance | Entry | Refusal;

/** Where draw entries are written (DrawRepository in the shop): durable before the shopper hears ENTERED. */
export interface DrawEntries {
  enter(saleId: number, userId: number, at: number): Promise<'entered' | 'duplicate' | 'closed'>;
}

/** The path and the captcha, in one answer. */
export interface Challenge {
  ok: true;
  path: string;
  captchaId: string;
  /** The captcha's picture, as a data URL; null for the check without a picture (answer it empty). */
  image: string | null;
  /** The answer counts from this moment on (later than now only without a picture). */
  answerAfter: number;
  expiresAt: number;
}

/** A challenge handed out during the countdown: a Challenge's JSON, sealed until the key is published at `opensAt`. */
export interface SealedChallenge {
  ok: true;
  sealed: string;
  opensAt: number;
}

/** The sale's key for the sealed challenges, published at the opening. */
export interface OpeningKey {
  ok: true;
  key: string;
}

/** For a purchase path that sells no draw sales (the rehearsal's copy): every draw is closed. */
const NO_DRAWS: DrawEntries = { enter: async () => 'closed' };

export class PurchaseFunnel<R = unknown> {
  private ready = false;
  private closedAs: Refusal = REFUSALS.STARTING;
  /** Requests whose publish outcome is unknown: their units stay reserved until the queue tells. */
  private readonly uncertain = new Map<string, { saleId: number; userId: number; leaseId?: number }>();

  constructor(
    private readonly read: RequestReader<R>,
    private readonly guards: RouteGuards,
    private readonly sales: SaleBook,
    private readonly accounts: Pick<AccountService, 'userIdFromSession'>,
    private readonly blacklist: Pick<BlacklistService, 'isBlocked'>,
    private readonly gate: UserGate,
    private readonly tickets: TicketService,
    private readonly captchas: CaptchaService,
    private readonly seal: ChallengeSeal,
    private readonly queue: OrderQueue,
    private readonly tracker: OrderTracker,
    private readonly abuse: Pick<AbuseMonitor, 'record'>,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
    private readonly entries: DrawEntries = NO_DRAWS,
  ) {}

  /**
   * The purchase: the funnel, for sale `saleId` through the secret `path` of the URL. A refusal at once
   * when a gate says no; a promise only when the order goes to the queue. The numbers are the README's
   * (Architecture, "The purchase funnel").
   */
  attempt(saleId: number, path: string, req: R): PurchaseResult | Promise<PurchaseResult> {
    const now = this.clock();
    // 1-10. The gates every step of the journey passes, cheapest first (frontGates, below).
    const userId = this.frontGates(saleId, req, now);
    if (typeof userId !== 'number') return userId;
    // 11. The captcha's answer, when it comes with the purchase: checked, not spent yet, so that a typo
    //     costs neither the shopper's try nor the captcha (it has three attempts).
    //     Wrong answers in numbers blacklist the shopper (AbuseMonitor), as the gate 9 then tells them.
    const answer = this.read.captchaAnswer(req);
    const wrong = answer ? this.checkAnswer(saleId, userId, answer, now) : null;
    if (wrong) return this.noted(wrong, userId, req, now);
    // 12. Per-shopper pacing: one try per interval, one request in flight; the slot is held until the answer.
    //     Too-fast tries in numbers blacklist the shopper too.
    const paced = this.enterShopperSlot(userId, now);
    if (paced) return this.noted(paced, userId, req, now);
    // A draw sale inside its window: the attempt becomes an entry instead of a unit (15 and 16 below).
    const entering = this.sales.drawPhase(saleId, now) === 'entering';
    let refusal: Refusal | null;
    try {
      refusal =
        this.checkPath(saleId, userId, path) ?? //                                 13. the secret purchase path
        this.spendProof(saleId, userId, answer, req, now) ?? //                     14. the solved captcha, spent
        (entering ? null : this.reserveUnit(saleId, userId)); //                    15. one unit, in memory
    } catch (err) {
      this.gate.leave(userId);
      throw err;
    }
    if (refusal) {
      this.gate.leave(userId);
      return refusal;
    }
    // 15-16 of a draw: the entry, written before the answer.
    if (entering) return this.enterDraw(saleId, userId, now).finally(() => this.gate.leave(userId));
    // 16. Publish to the durable queue and wait for the broker's confirm.
    return this.publishOrder(saleId, userId, now).finally(() => this.gate.leave(userId));
  }

  /**
   * The step before the purchase: the secret path and a captcha in one answer, while the sale is live and
   * the shopper can still buy; sealed during the last `seal.leadMs` of the countdown (see ChallengeSeal),
   * its captcha answerable from the opening on.
   */
  challenge(saleId: number, req: R, withoutPicture = false): Challenge | SealedChallenge | Refusal {
    const now = this.clock();
    const userId = this.frontGates(saleId, req, now, true); //                     1-10, as for the purchase
    if (typeof userId !== 'number') return userId;
    const opensAt = this.sales.get(saleId)!.startsAt;
    const from = Math.max(now, opensAt);
    const path = `/api/sales/${saleId}/buy/${this.tickets.pathFor(saleId, userId)}`;
    let challenge: Challenge;
    if (withoutPicture) {
      const timed = this.captchas.issueTimed(userId, saleId, now, from); //       the wait instead of a picture
      if (timed === 'too_many') return REFUSALS.CAPTCHA_RATE_LIMITED;
      challenge = { ok: true, path, captchaId: timed.id, image: null, answerAfter: timed.answerAfter, expiresAt: timed.expiresAt };
    } else {
      const captcha = this.captchas.issue(userId, saleId, now, from); //           a ready captcha from the pool
      if (captcha === 'too_many') return REFUSALS.CAPTCHA_RATE_LIMITED;
      if (!captcha) return REFUSALS.CAPTCHA_BUSY;
      challenge = { ok: true, path, captchaId: captcha.id, image: captcha.image, answerAfter: from, expiresAt: captcha.expiresAt };
    }
    if (now >= opensAt) return challenge;
    return { ok: true, sealed: this.seal.seal(saleId, opensAt, JSON.stringify(challenge)), opensAt };
  }

  /** The key of the sale's sealed challenges: from its opening on, the same for every shopper. */
  openingKey(saleId: number): OpeningKey | Refusal {
    const sale = this.sales.get(saleId);
    if (!sale) return REFUSALS.SALE_NOT_FOUND;
    const left = sale.startsAt - this.clock();
    if (left > 0) return { ...REFUSALS.NOT_STARTED, retryAfterSeconds: Math.ceil(left / 1000) };
    return { ok: true, key: this.seal.key(saleId, sale.startsAt).toString('base64') };
  }

  /**
   * Gates 1-10, in order: the shopper's id when every one lets the request through, else the refusal.
   * `sealable`: a sale that opens within the seal's lead passes gate 8 (the challenge is then sealed).
   */
  private frontGates(saleId: number, req: R, now: number, sealable = false): number | Refusal {
    if (this.guards.overloaded()) return REFUSALS.OVERLOADED; //                   1. the event loop keeps up
    if (!this.guards.bucket.tryTake()) return REFUSALS.BUSY; //                   2. route token bucket
    const ip = this.read.clientIp(req);
    if (!this.guards.perIp.hit(ip, now)) return this.ipLimited(now); //            3. per-IP window
    if (!this.read.isSameSite(req)) return REFUSALS.CROSS_SITE; //                 4. Origin check
    if (this.soldOutNow(saleId, now)) return REFUSALS.SOLD_OUT; //                 5. sold out, before the cookie costs anything
    const userId = this.accounts.userIdFromSession(this.read.sessionToken(req), now); // 6. login cookie
    if (userId === null) return REFUSALS.NOT_LOGGED_IN;
    if (!this.ready) return this.closedAs; //                                      7. shop open
    const outOfWindow = this.sales.windowRefusal(saleId, now); //                  8. sale window
    if (outOfWindow && !(sealable && outOfWindow === REFUSALS.NOT_STARTED && this.seal.covers(this.sales.get(saleId)!.startsAt, now))) return outOfWindow;
    if (this.blacklist.isBlocked(userId, ip, now)) return REFUSALS.BLOCKED; //     9. blacklist
    return this.alreadyDone(saleId, userId, now, !sealable) ?? userId; //          10. sold out / bought / entered already
  }

  /** Opens the funnel; called once the queue is drained and stock is rebuilt. */
  open(): void {
    this.ready = true;
  }

  close(reason: 'starting' | 'stopping' = 'stopping'): void {
    this.ready = false;
    this.closedAs = reason === 'stopping' ? REFUSALS.STOPPING : REFUSALS.STARTING;
  }

  isOpen(): boolean {
    return this.ready;
  }

  uncertainRequests(): [string, { saleId: number; userId: number; leaseId?: number }][] {
    return [...this.uncertain];
  }

  /** Settles an unknown publish: `written` when its order row exists, otherwise the unit goes back. */
  settleUncertain(requestId: string, written: boolean): void {
    const u = this.uncertain.get(requestId);
    if (!u) return;
    this.uncertain.delete(requestId);
    if (written) return;
    this.sales.inventory.release(u.saleId, u.userId, u.leaseId);
    this.tracker.failed(requestId);
    this.log.info({ requestId }, 'unknown publish never reached the queue; unit given back');
  }

  /** Hands a refusal that only scripts collect in numbers to the abuse rules, and returns it. */
  private noted(refusal: Refusal, userId: number, req: R, now: number): Refusal {
    if (refusal.code === REFUSALS.CAPTCHA_WRONG.code) this.abuse.record('captcha_wrong', userId, this.read.clientIp(req), now);
    else if (refusal.code === REFUSALS.TOO_FAST.code) this.abuse.record('too_fast', userId, this.read.clientIp(req), now);
    return refusal;
  }

  private ipLimited(now: number): Refusal {
    return { ...REFUSALS.IP_RATE_LIMITED, retryAfterSeconds: this.guards.perIp.secondsLeft(now) };
  }

  /**
   * The answer for anyone is "sold out": the shop is open, the sale is live and nothing is left. The sale
   * page says sold out to everyone, so answering before the login cookie reveals nothing.
   */
  private soldOutNow(saleId: number, now: number): boolean {
    return this.ready && this.sales.windowState(saleId, now) === 'live' && this.sales.inventory.isSoldOut(saleId);
  }

  /**
   * Answers that need no pacing come before it, so a finished shopper is told at once: sold out, bought, and
   * for a draw sale already entered, or the draw running (its winners are not known here yet). A shopper who
   * must wait for stock this instance cannot sell yet (RESTOCKING) keeps the try and the captcha; the
   * challenge is handed out all the same, as the wait is short.
   */
  private alreadyDone(saleId: number, userId: number, now: number, purchase: boolean): Refusal | null {
    const inventory = this.sales.inventory;
    const draw = this.sales.drawPhase(saleId, now);
    if (draw === 'entering' && this.sales.draws.hasEntered(saleId, userId)) return REFUSALS.ALREADY_ENTERED;
    if (draw === 'drawing') return REFUSALS.DRAW_RUNNING;
    if (inventory.isSoldOut(saleId)) return REFUSALS.SOLD_OUT;
    if (inventory.hasBought(saleId, userId)) return REFUSALS.ALREADY_BOUGHT;
    if (purchase && draw !== 'entering' && inventory.stalled(saleId, userId, now)) return REFUSALS.RESTOCKING;
    return null;
  }

  /**
   * The shopper's draw entry: marked in memory first (a second try meanwhile is refused), then written; the
   * answer comes only once the row is. A draw that closed meanwhile (another process ran it) refuses.
   */
  private async enterDraw(saleId: number, userId: number, now: number): Promise<PurchaseResult> {
    const draws = this.sales.draws;
    draws.mark(saleId, userId);
    let entered: 'entered' | 'duplicate' | 'closed';
    try {
      entered = await this.entries.enter(saleId, userId, now);
    } catch (err) {
      draws.unmark(saleId, userId);
      this.log.warn({ saleId, userId, err: (err as Error).message }, 'draw entry not written');
      return REFUSALS.ENTRY_UNAVAILABLE;
    }
    if (entered === 'duplicate') return REFUSALS.ALREADY_ENTERED;
    if (entered === 'closed') {
      draws.unmark(saleId, userId);
      return REFUSALS.DRAW_RUNNING;
    }
    return { ok: true, entered: true, drawAt: this.sales.get(saleId)!.drawEndsAt };
  }

  /** One attempt per interval and one request in flight per shopper; a pass holds the slot until leave(). */
  private enterShopperSlot(userId: number, now: number): Refusal | null {
    const pass = this.gate.enter(userId, now);
    if (pass.ok) return null;
    if (pass.reason === 'in_flight') return REFUSALS.IN_FLIGHT;
    return { ...REFUSALS.TOO_FAST, retryAfterSeconds: Math.ceil(pass.retryAfterMs / 1000) };
  }

  private checkPath(saleId: number, userId: number, path: string): Refusal | null {
    return this.tickets.isPath(saleId, userId, path) ? null : REFUSALS.PATH_INVALID;
  }

  /** A wrong or stale captcha answer (`<captchaId>.<answer>`), or null when it is right. */
  private checkAnswer(saleId: number, userId: number, answer: string, now: number): Refusal | null {
    const dot = answer.indexOf('.');
    const check = dot > 0 ? this.captchas.verify(answer.slice(0, dot), userId, saleId, answer.slice(dot + 1), now) : 'expired';
    if (check === 'ok') return null;
    return check === 'wrong' ? REFUSALS.CAPTCHA_WRONG : check === 'early' ? REFUSALS.CAPTCHA_EARLY : REFUSALS.CAPTCHA_EXPIRED;
  }

  /** Spends the captcha answered with the purchase (already checked), or else checks and spends its ticket. */
  private spendProof(saleId: number, userId: number, answer: string, req: R, now: number): Refusal | null {
    if (answer) {
      this.captchas.spend(answer.slice(0, answer.indexOf('.')));
      return null;
    }
    const ticket = this.tickets.redeem(this.read.ticket(req), saleId, userId, now);
    if (ticket === 'ok') return null;
    return ticket === 'used' ? REFUSALS.TICKET_USED : ticket === 'expired' ? REFUSALS.TICKET_EXPIRED : REFUSALS.TICKET_INVALID;
  }

  /** The single step that decides a purchase: takes one unit and marks the shopper as a buyer. */
  private reserveUnit(saleId: number, userId: number): Refusal | null {
    const reserved = this.sales.inventory.tryReserve(saleId, userId);
    if (reserved === 'reserved') return null;
    return reserved === 'sold_out' ? REFUSALS.SOLD_OUT : REFUSALS.ALREADY_BOUGHT;
  }

  /** The unit is reserved: queue the order, and give the unit back if the broker surely did not take it. */
  private async publishOrder(saleId: number, userId: number, now: number): Promise<PurchaseResult> {
    const requestId = randomUUID();
    const leaseId = this.sales.inventory.leaseOf(saleId);
    this.tracker.accepted(requestId, saleId, userId, now);
    try {
      await this.queue.publish(leaseId === undefined ? { requestId, saleId, userId, at: now } : { requestId, saleId, userId, at: now, leaseId });
      return { ok: true, requestId };
    } catch (err) {
      if (err instanceof PublishUnknownError) {
        // The broker may have the message: keep the unit (and the shopper marked as a buyer) so that a late
        // order can never oversell or double-buy. The shopper can ask for this request id's status.
        this.uncertain.set(requestId, { saleId, userId, leaseId });
        this.log.warn({ requestId, err: err.message }, 'publish outcome unknown; unit kept reserved');
        return { ...REFUSALS.QUEUE_UNAVAILABLE, requestId };
      }
      this.sales.inventory.release(saleId, userId, leaseId);
      this.tracker.forget(requestId);
      this.log.warn({ requestId, err: (err as Error).message }, 'publish refused; unit given back');
      return REFUSALS.QUEUE_UNAVAILABLE;
    }
  }
}
