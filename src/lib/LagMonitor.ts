// Event-loop lag, sampled by a timer's drift: when the loop falls behind, new work should be shed.
export class LagMonitor {
  private timer: NodeJS.Timeout | null = null;
  private lagMs = 0;

  constructor(
    private readonly thresholdMs: number,
    private readonly everyMs = 20,
  ) {}

  start(): void {
    if (this.timer) return;
    let expected = performance.now() + this.everyMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      const drift = Math.max(0, now - expected);
      // Rise at once, fall smoothly: one quiet sample does not end an overload.
      this.lagMs = drift > this.lagMs ? drift : this.lagMs * 0.7 + drift * 0.3;
      expected = now + this.everyMs;
    }, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  lag(): number {
    return this.lagMs;
  }

  readonly overloaded = (): boolean => this.lagMs > this.thresholdMs;
}
