// The purchase funnel's rules, cheapest first, with no database read on the way: sale window, blacklist,
// per-shopper pacing, sold-out flag, ticket and secret path, one per shopper, reserve, publish.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { OrderQueue, PublishUnknownError } from '../queue/OrderQueue';
import type { BlacklistService } from './BlacklistService';
import type { OrderTracker } from './OrderTracker';
import type { SaleBook } from './SaleBook';
import type { TicketService } from './TicketService';
import type { UserGate } from './UserGate';

export interface PurchaseAttempt {
  saleId: number;
  userId: number;
  ip: string;
  path: string;
  ticket: string;
  now: number;
}

export interface Refusal {
  ok: false;
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
  requestId?: string;
}

export interface Acceptance {
  ok: true;
  requestId: string;
}

export type PurchaseResult = Acceptance | Refusal;

function refusal(status: number, code: string, message: string, retryAfterSeconds?: number): Refusal {
  return Object.freeze({ ok: false as const, status, code, message, retryAfterSeconds });
}

/** Every refusal the funnel can give, with its stable code. Built once: refusing allocates nothing. */
export const REFUSALS = {
  STARTING: refusal(503, 'STARTING', 'The shop is starting; try again in a moment.', 1),
  STOPPING: refusal(503, 'STOPPING', 'The shop is restarting; try again in a moment.', 2),
  OVERLOADED: refusal(503, 'OVERLOADED', 'Too many shoppers right now; try again in a moment.', 1),
  BUSY: refusal(503, 'BUSY', 'Too many shoppers right now; try again in a moment.', 1),
  IP_RATE_LIMITED: refusal(429, 'IP_RATE_LIMITED', 'Too many requests from your network; slow down.', 10),
  NOT_LOGGED_IN: refusal(401, 'NOT_LOGGED_IN', 'Please log in first.'),
  SALE_NOT_FOUND: refusal(404, 'SALE_NOT_FOUND', 'There is no such sale.'),
  NOT_STARTED: refusal(403, 'NOT_STARTED', 'The sale has not started yet.'),
  SALE_ENDED: refusal(410, 'SALE_ENDED', 'The sale has ended.'),
  BLOCKED: refusal(403, 'BLOCKED', 'Your account or network is blocked from this sale.'),
  TOO_FAST: refusal(429, 'TOO_FAST', 'One try every few seconds, please.', 10),
  IN_FLIGHT: refusal(429, 'IN_FLIGHT', 'Your previous request is still being handled.', 1),
  SOLD_OUT: refusal(410, 'SOLD_OUT', 'Sold out.'),
  PATH_INVALID: refusal(404, 'PATH_INVALID', 'This purchase link is not valid.'),
  TICKET_INVALID: refusal(403, 'TICKET_INVALID', 'Solve the captcha again before buying.'),
  TICKET_USED: refusal(403, 'TICKET_USED', 'This captcha was already used; solve a new one.'),
  TICKET_EXPIRED: refusal(403, 'TICKET_EXPIRED', 'The captcha has expired; solve a new one.'),
  ALREADY_BOUGHT: refusal(409, 'ALREADY_BOUGHT', 'You have already bought in this sale.'),
  QUEUE_UNAVAILABLE: refusal(503, 'QUEUE_UNAVAILABLE', 'We could not take your order right now; try again.', 2),
} as const;

export class PurchaseService {
  private ready = false;
  private closedAs: 'starting' | 'stopping' = 'starting';
  /** Requests whose publish outcome is unknown: their units stay reserved until the queue tells. */
  private readonly uncertain = new Map<string, { saleId: number; userId: number }>();

  constructor(
    private readonly sales: SaleBook,
    private readonly gate: UserGate,
    private readonly blacklist: BlacklistService,
    private readonly tickets: TicketService,
    private readonly queue: OrderQueue,
    private readonly tracker: OrderTracker,
    private readonly log: Logger,
  ) {}

  /** Opens the funnel; called once the queue is drained and stock is rebuilt. */
  open(): void {
    this.ready = true;
  }

  close(reason: 'starting' | 'stopping' = 'stopping'): void {
    this.ready = false;
    this.closedAs = reason;
  }

  isOpen(): boolean {
    return this.ready;
  }

  uncertainRequests(): [string, { saleId: number; userId: number }][] {
    return [...this.uncertain];
  }

  /** Settles an unknown publish: `written` when its order row exists, otherwise the unit goes back. */
  settleUncertain(requestId: string, written: boolean): void {
    const u = this.uncertain.get(requestId);
    if (!u) return;
    this.uncertain.delete(requestId);
    if (written) return;
    this.sales.inventory.release(u.saleId, u.userId);
    this.tracker.failed(requestId);
    this.log.info({ requestId }, 'unknown publish never reached the queue; unit given back');
  }

  /**
   * True when the answer for anyone is "sold out": the shop is open, the sale is live and nothing is left.
   * Lets the route answer the crowd after the sell-out without opening a login cookie; the sale page
   * itself says sold out to everyone, so nothing is revealed.
   */
  soldOutNow(saleId: number, now: number): boolean {
    if (!this.ready) return false;
    const sale = this.sales.get(saleId);
    return sale !== undefined && now >= sale.startsAt && now < sale.endsAt && this.sales.inventory.isSoldOut(saleId);
  }

  /** A refusal at once when a gate says no; a promise only when the order goes to the queue. */
  attempt(a: PurchaseAttempt): PurchaseResult | Promise<PurchaseResult> {
    if (!this.ready) return this.closedAs === 'stopping' ? REFUSALS.STOPPING : REFUSALS.STARTING;
    const sale = this.sales.get(a.saleId);
    if (!sale) return REFUSALS.SALE_NOT_FOUND;
    if (a.now < sale.startsAt) return REFUSALS.NOT_STARTED;
    if (a.now >= sale.endsAt) return REFUSALS.SALE_ENDED;
    if (this.blacklist.isBlocked(a.userId, a.ip, a.now)) return REFUSALS.BLOCKED;
    const inventory = this.sales.inventory;
    // Answers that need no pacing come first, so a finished shopper is told at once.
    if (inventory.isSoldOut(a.saleId)) return REFUSALS.SOLD_OUT;
    if (inventory.hasBought(a.saleId, a.userId)) return REFUSALS.ALREADY_BOUGHT;
    const pass = this.gate.enter(a.userId, a.now);
    if (!pass.ok) {
      if (pass.reason === 'in_flight') return REFUSALS.IN_FLIGHT;
      return { ...REFUSALS.TOO_FAST, retryAfterSeconds: Math.ceil(pass.retryAfterMs / 1000) };
    }
    let refused: Refusal | null;
    try {
      refused = this.check(a);
    } catch (err) {
      this.gate.leave(a.userId);
      throw err;
    }
    if (refused) {
      this.gate.leave(a.userId);
      return refused;
    }
    return this.reserveAndPublish(a).finally(() => this.gate.leave(a.userId));
  }

  /** Secret path and ticket (spent here when valid), then the unit itself. */
  private check(a: PurchaseAttempt): Refusal | null {
    if (!this.tickets.isPath(a.saleId, a.userId, a.path)) return REFUSALS.PATH_INVALID;
    const ticket = this.tickets.redeem(a.ticket, a.saleId, a.userId, a.now);
    if (ticket !== 'ok') {
      return ticket === 'used' ? REFUSALS.TICKET_USED : ticket === 'expired' ? REFUSALS.TICKET_EXPIRED : REFUSALS.TICKET_INVALID;
    }
    const reserved = this.sales.inventory.tryReserve(a.saleId, a.userId);
    if (reserved === 'sold_out') return REFUSALS.SOLD_OUT;
    if (reserved === 'already_bought') return REFUSALS.ALREADY_BOUGHT;
    return null;
  }

  /** The unit is reserved: queue the order, and give the unit back if the broker surely did not take it. */
  private async reserveAndPublish(a: PurchaseAttempt): Promise<PurchaseResult> {
    const requestId = randomUUID();
    this.tracker.accepted(requestId, a.saleId, a.userId, a.now);
    try {
      await this.queue.publish({ requestId, saleId: a.saleId, userId: a.userId, at: a.now });
      return { ok: true, requestId };
    } catch (err) {
      if (err instanceof PublishUnknownError) {
        // The broker may have the message: keep the unit and the shopper's slot so that a late order
        // can never oversell or double-buy. The shopper can ask for this request id's status.
        this.uncertain.set(requestId, { saleId: a.saleId, userId: a.userId });
        this.log.warn({ requestId, err: err.message }, 'publish outcome unknown; unit kept reserved');
        return { ...REFUSALS.QUEUE_UNAVAILABLE, requestId };
      }
      this.sales.inventory.release(a.saleId, a.userId);
      this.tracker.forget(requestId);
      this.log.warn({ requestId, err: (err as Error).message }, 'publish refused; unit given back');
      return REFUSALS.QUEUE_UNAVAILABLE;
    }
  }
}
