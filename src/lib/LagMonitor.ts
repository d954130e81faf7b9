// Event-loop lag, sampled by a timer's drift: when the loop falls behind, new work should be shed.

/** Calls `tick` every `ms` until the returned function is called. */
export type Repeat = (tick: () => void, ms: number) => () => void;

/** A real interval that keeps no process alive. */
export const unrefInterval: Repeat = (tick, ms) => {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export class LagMonitor {
  private stopTicking: (() => void) | null = null;
  private lagMs = 0;

  constructor(
    private readonly thresholdMs: number,
    private readonly everyMs = 20,
    // Injectable so that a test can drive the drift; monotonic by default.
    private readonly clock: () => number = () => performance.now(),
    private readonly repeat: Repeat = unrefInterval,
  ) {}

  start(): void {
    if (this.stopTicking) return;
    let expected = this.clock() + this.everyMs;
    this.stopTicking = this.repeat(() => {
      const now = this.clock();
      const drift = Math.max(0, now - expected);
      // Rise at once, fall smoothly: one quiet sample does not end an overload.
      this.lagMs = drift > this.lagMs ? drift : this.lagMs * 0.7 + drift * 0.3;
      expected = now + this.everyMs;
    }, this.everyMs);
  }

  stop(): void {
    this.stopTicking?.();
    this.stopTicking = null;
  }

  lag(): number {
    return this.lagMs;
  }

  readonly overloaded = (): boolean => this.lagMs > this.thresholdMs;
}
