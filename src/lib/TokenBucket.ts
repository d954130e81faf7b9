// Token bucket refilled lazily on each take: no timers, O(1), used as a global overload guard per route.

/** One clock for every bucket that is given none: a closure per bucket would be a different call target each. */
const monotonicNow = (): number => performance.now();

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
    private readonly now: () => number = monotonicNow,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  tryTake(): boolean {
    const t = this.now();
    const refill = ((t - this.last) * this.perSecond) / 1000;
    this.last = t;
    this.tokens = Math.min(this.capacity, this.tokens + refill);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
