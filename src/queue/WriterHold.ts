// Peak shaving for the order writer. Every accepted order is in the broker, confirmed, before its 202, so
// the database row may come a moment later; while purchases pour in, the writer's work (deliveries, SQL,
// the database server itself) would take CPU from the purchase path on the same machine. So before a
// batch the writer waits while orders are being accepted faster than `minPerSecond`, for at most `maxMs`
// per peak: after that it writes through the rest of the peak, as without a hold, until the pace drops.
import type { PurchasePace } from '../lib/PurchasePace';

export interface HoldSettings {
  /** The longest the writer holds back in one peak; 0 never holds. */
  maxMs: number;
  /** How often the pace is read, and how long without an accepted order counts as quiet. */
  windowMs: number;
  /** The pace below which the writer does not hold back. */
  minPerSecond: number;
}

export const DEFAULT_HOLD: HoldSettings = { maxMs: 1000, windowMs: 50, minPerSecond: 1000 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class WriterHold {
  /** When holding started in the current peak; null while the pace is low. */
  private since: number | null = null;

  constructor(
    private readonly pace: PurchasePace,
    private readonly settings: HoldSettings = DEFAULT_HOLD,
    private readonly clock: () => number = Date.now,
    private readonly pause: (ms: number) => Promise<void> = sleep,
  ) {}

  /** Resolves when the writer may write: the pace is low, this peak's hold is used up, or `stopped()`. */
  async wait(stopped: () => boolean = () => false): Promise<void> {
    const { maxMs, windowMs, minPerSecond } = this.settings;
    if (maxMs <= 0) return;
    for (;;) {
      const now = this.clock();
      if (now - this.pace.lastAt() > windowMs) {
        this.since = null;
        return;
      }
      this.since ??= now;
      if (now - this.since >= maxMs || stopped()) return;
      const before = this.pace.count();
      await this.pause(windowMs);
      if (((this.pace.count() - before) * 1000) / windowMs < minPerSecond) {
        this.since = null;
        return;
      }
    }
  }
}
