// What the process knows of requests it accepted: pending, failed, or confirmed (written) a short while ago,
// so that a shopper's status polls are answered from memory; and the pace at which it accepts them (read by
// the order writer, see WriterHold).
import { PurchasePace } from '../lib/PurchasePace';
import type { SettlementListener } from '../queue/OrderQueue';

export type TrackedState = 'pending' | 'failed' | 'confirmed';

/** How long a written request is still answered from memory; later, the database answers. */
const CONFIRMED_KEPT_MS = 120_000;

interface Tracked {
  userId: number;
  saleId: number;
  state: TrackedState;
  at: number;
}

export class OrderTracker implements SettlementListener {
  private readonly requests = new Map<string, Tracked>();
  /** When each sale last accepted an order: once it is sold out, the moment it sold out. */
  private readonly lastAccepted = new Map<number, number>();
  /** A double from the start, like the timestamps it will hold. */
  private sweptAt = -Infinity;

  constructor(
    readonly pace: PurchasePace = new PurchasePace(),
    private readonly clock: () => number = Date.now,
  ) {}

  accepted(requestId: string, saleId: number, userId: number, at: number): void {
    this.requests.set(requestId, { userId, saleId, state: 'pending', at });
    this.lastAccepted.set(saleId, at);
    this.pace.taken();
  }

  /** The order row exists now: the database is the record, and memory answers for a little longer. */
  written(requestId: string): void {
    const t = this.requests.get(requestId);
    if (t) t.state = 'confirmed';
    this.sweep();
  }

  /** The request never left the process (its publish surely failed). */
  forget(requestId: string): void {
    this.requests.delete(requestId);
  }

  failed(requestId: string): void {
    const t = this.requests.get(requestId);
    if (t) t.state = 'failed';
  }

  get(requestId: string): Readonly<Tracked> | undefined {
    return this.requests.get(requestId);
  }

  /** The shopper's requests not yet written, or failed. */
  forUser(userId: number): (Tracked & { requestId: string })[] {
    const found: (Tracked & { requestId: string })[] = [];
    for (const [requestId, t] of this.requests) if (t.userId === userId && t.state !== 'confirmed') found.push({ ...t, requestId });
    return found;
  }

  /** When the sale last accepted an order in this process (epoch ms), or null. */
  lastAcceptedAt(saleId: number): number | null {
    return this.lastAccepted.get(saleId) ?? null;
  }

  pendingCount(): number {
    let n = 0;
    for (const t of this.requests.values()) if (t.state === 'pending') n += 1;
    return n;
  }

  /** Forgets confirmed requests accepted long enough ago; at most every 10 s, never inside a purchase. */
  private sweep(): void {
    const now = this.clock();
    if (now - this.sweptAt < 10_000) return;
    this.sweptAt = now;
    for (const [id, t] of this.requests) if (t.state === 'confirmed' && now - t.at > CONFIRMED_KEPT_MS) this.requests.delete(id);
  }
}
