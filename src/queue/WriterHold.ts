// Peak shaving for the order writer. Every accepted order is in the broker, confirmed, before its 202, so
// its database row may come a moment later; while purchases pour in, the writer's work (deliveries, SQL,
// the database server itself) would take CPU from the purchase path on the same machine. So the writer
// samples the pace of accepted orders every window, and before a batch it waits while the pace is at or
// above `minPerSecond`, for at most `maxMs` from the start of the peak: after that it writes through the
// rest of the peak, as without a hold. A peak ends with the first window below the pace.
import { setTimeout as delay } from 'node:timers/promises';
import type { PurchasePace } from '../lib/PurchasePace';

export interface HoldSettings {
  /** The longest the writer holds back in one peak; 0 never holds. */
  maxMs: number;
  /** How often the pace is sampled, and how often a waiting batch looks again. */
  windowMs: number;
  /** The pace at which a peak begins. */
  minPerSecond: number;
  /**
   * Counters another thread can read while the hold works in the writer's (see HOLD_PROBE): lets a test
   * await the hold at work instead of sleeping and hoping. Absent in production.
   */
  probe?: Int32Array;
}

/** The cells of HoldSettings.probe. */
export const HOLD_PROBE = {
  /** Windows sampled at or above the pace. */
  peakWindows: 0,
  /** Looks at which a batch waited a window. */
  heldLooks: 1,
  size: 2,
} as const;

export const DEFAULT_HOLD: HoldSettings = { maxMs: 1000, windowMs: 50, minPerSecond: 1000 };

export class WriterHold {
  private sampledAt: number;
  private sampledCount: number;
  /** When the current peak began; null when the last window was below the pace. */
  private peakSince: number | null = null;
  private sampler: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly pace: PurchasePace,
    private readonly settings: HoldSettings = DEFAULT_HOLD,
    // Monotonic: a wall clock set back would stretch a hold by as much.
    private readonly clock: () => number = () => performance.now(),
    private readonly pause: (ms: number) => Promise<unknown> = delay,
  ) {
    this.sampledAt = clock();
    this.sampledCount = pace.count();
  }

  /** Starts sampling the pace, one window after another (a timer that keeps no process alive). */
  start(): void {
    this.stopped = false;
    if (this.settings.maxMs <= 0 || this.sampler) return;
    this.sample();
    this.sampler = setInterval(() => this.sample(), this.settings.windowMs);
    this.sampler.unref();
  }

  /** Stops sampling; waits end, and none begins until start(). */
  stop(): void {
    this.stopped = true;
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
    this.peakSince = null;
  }

  /** Closes the window that began at the last sample: at or above the pace it starts or continues a peak. */
  sample(): void {
    const now = this.clock();
    const count = this.pace.count();
    const elapsed = now - this.sampledAt;
    if (elapsed <= 0) return;
    const perSecond = (((count - this.sampledCount) | 0) * 1000) / elapsed;
    if (perSecond >= this.settings.minPerSecond) {
      this.peakSince ??= this.sampledAt;
      if (this.settings.probe) Atomics.add(this.settings.probe, HOLD_PROBE.peakWindows, 1);
    } else this.peakSince = null;
    this.sampledAt = now;
    this.sampledCount = count;
  }

  /** Resolves when the writer may write: no peak, this peak's hold used up, or `released()`. */
  async wait(released: () => boolean = () => false): Promise<void> {
    const { maxMs, windowMs } = this.settings;
    if (maxMs <= 0) return;
    for (;;) {
      if (this.stopped) return;
      const since = this.peakStart();
      if (since === null || this.clock() - since >= maxMs || released()) return;
      if (this.settings.probe) Atomics.add(this.settings.probe, HOLD_PROBE.heldLooks, 1);
      await this.pause(windowMs);
    }
  }

  /**
   * The current peak's start. The window still open counts too, once its orders are at the pace over at
   * least a fifth of a window (so that a lone order is not a peak): the first batch of a peak arrives
   * within its first window, and waits as well.
   */
  private peakStart(): number | null {
    if (this.peakSince !== null) return this.peakSince;
    const { minPerSecond, windowMs } = this.settings;
    const open = this.clock() - this.sampledAt;
    if (open < 0 || (this.sampler === null && open > 2 * windowMs)) return null; // not sampling: no window is open
    const taken = (this.pace.count() - this.sampledCount) | 0;
    return taken >= (minPerSecond * Math.max(open, windowMs / 5)) / 1000 ? this.sampledAt : null;
  }
}
