// What the process knows of requests it accepted but has not yet seen written: pending or failed; and the
// pace at which it accepts them (read by the order writer, see WriterHold).
import { PurchasePace } from '../lib/PurchasePace';
import type { SettlementListener } from '../queue/OrderQueue';

export type TrackedState = 'pending' | 'failed';

interface Tracked {
  userId: number;
  saleId: number;
  state: TrackedState;
  at: number;
}

export class OrderTracker implements SettlementListener {
  private readonly requests = new Map<string, Tracked>();

  constructor(readonly pace: PurchasePace = new PurchasePace()) {}

  accepted(requestId: string, saleId: number, userId: number, at: number): void {
    this.requests.set(requestId, { userId, saleId, state: 'pending', at });
    this.pace.taken();
  }

  /** The order row exists now: the database is the record from here on. */
  written(requestId: string): void {
    this.requests.delete(requestId);
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

  forUser(userId: number): (Tracked & { requestId: string })[] {
    const found: (Tracked & { requestId: string })[] = [];
    for (const [requestId, t] of this.requests) if (t.userId === userId) found.push({ ...t, requestId });
    return found;
  }

  pendingCount(): number {
    let n = 0;
    for (const t of this.requests.values()) if (t.state === 'pending') n += 1;
    return n;
  }
}
