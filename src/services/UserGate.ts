// Per-shopper pacing on the purchase path: one attempt per interval and one request in flight.

export type GateResult = { ok: true } | { ok: false; reason: 'too_fast' | 'in_flight'; retryAfterMs: number };

export interface UserGate {
  /** Records an attempt when it is let through. */
  enter(userId: number, now: number): GateResult;
  leave(userId: number): void;
}

const OK: GateResult = { ok: true };

export class MemoryUserGate implements UserGate {
  private readonly lastAttempt = new Map<number, number>();
  private readonly inFlight = new Set<number>();
  /** A double from the start, like the timestamps it will hold: the field keeps one shape (see buildPurchasePath). */
  private sweptAt = -Infinity;

  constructor(private readonly intervalMs: number) {}

  enter(userId: number, now: number): GateResult {
    if (this.inFlight.has(userId)) return { ok: false, reason: 'in_flight', retryAfterMs: 1000 };
    const last = this.lastAttempt.get(userId);
    if (last !== undefined && now - last < this.intervalMs) {
      return { ok: false, reason: 'too_fast', retryAfterMs: this.intervalMs - (now - last) };
    }
    this.lastAttempt.set(userId, now);
    this.inFlight.add(userId);
    this.sweep(now);
    return OK;
  }

  leave(userId: number): void {
    this.inFlight.delete(userId);
  }

  /** Forget attempts older than the interval, at most once per interval, so memory stays bounded. */
  private sweep(now: number): void {
    if (now - this.sweptAt < Math.max(this.intervalMs, 1000)) return;
    this.sweptAt = now;
    for (const [userId, at] of this.lastAttempt) if (now - at >= this.intervalMs) this.lastAttempt.delete(userId);
  }
}
