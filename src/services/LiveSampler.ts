// The live dashboard's one sampler: about once a second, while anyone watches, it reads the shop's counters
// (never the purchase path's locks or the database beyond ShopProbe's one shared reading) and sends every
// watcher of a sale the same ready-made Server-Sent Event. A thousand open dashboards cost one sample a second.
import { Repeat, unrefInterval } from '../lib/LagMonitor';
import type { OrderTracker } from './OrderTracker';
import type { PurchaseMeter } from './PurchaseMeter';
import type { LifePhase, SaleLifecycle, SaleSummary } from './SaleLifecycle';
import type { SaleBook } from './SaleBook';
import type { ProbeReading, ShopProbe } from './ShopProbe';

export interface LiveSnapshot {
  at: number;
  saleId: number;
  phase: LifePhase;
  startsAt: number;
  endsAt: number;
  stock: number;
  left: number;
  sold: number;
  /** Units of this sale accepted per second since the last sample. */
  acceptedPerSecond: number;
  /** Purchases refused per second since the last sample, by code (this instance, every sale). */
  refusedPerSecond: Record<string, number>;
  /** Purchases refused since the process started, by code (this instance, every sale). */
  refusedTotal: Record<string, number>;
  sellOutMs: number | null;
  /** Accepted orders not yet written to the database: the writer's lag, in orders. */
  pending: number;
  queueDepth: number | null;
  deadLetters: number | null;
  lagMs: number;
  health: { database: boolean; broker: boolean; writer: boolean };
  summary: SaleSummary | null;
}

export interface LiveSources {
  book: SaleBook;
  meter: Pick<PurchaseMeter, 'counts'>;
  tracker: Pick<OrderTracker, 'pendingCount'>;
  probe: Pick<ShopProbe, 'read'>;
  lag: { lag(): number };
  lifecycle: Pick<SaleLifecycle, 'phase' | 'sellOutMs' | 'summary' | 'ensureSummary'>;
}

/** Where a watcher's events go: `send` gets whole SSE frames; `end` closes the stream (the shop is stopping). */
export interface Watcher {
  send(frame: string): void;
  end(): void;
}

const HISTORY = 120;

export class LiveSampler {
  private readonly watchers = new Map<number, Set<Watcher>>();
  /** The last HISTORY samples of each watched sale, for a dashboard opened in the middle of a sale. */
  private readonly history = new Map<number, LiveSnapshot[]>();
  private stopTicking: (() => void) | null = null;
  private prev: { at: number; counts: Record<string, number>; sold: Map<number, number> } | null = null;
  private sampling = false;

  constructor(
    private readonly s: LiveSources,
    private readonly clock: () => number = Date.now,
    private readonly repeat: Repeat = unrefInterval,
    private readonly everyMs = 1000,
  ) {}

  /** Starts sending `saleId`'s samples to `w`: first its recent history, then one event per sample. */
  watch(saleId: number, w: Watcher): () => void {
    let set = this.watchers.get(saleId);
    if (!set) this.watchers.set(saleId, (set = new Set()));
    set.add(w);
    w.send(`retry: 3000\nevent: history\ndata: ${JSON.stringify(this.history.get(saleId) ?? [])}\n\n`);
    if (!this.stopTicking) {
      this.prev = null;
      this.stopTicking = this.repeat(() => void this.sample(), this.everyMs);
      void this.sample();
    }
    return () => this.unwatch(saleId, w);
  }

  watcherCount(): number {
    let n = 0;
    for (const set of this.watchers.values()) n += set.size;
    return n;
  }

  /** Ends every stream (the shop is stopping) and the sampling. */
  stop(): void {
    for (const set of this.watchers.values()) for (const w of set) w.end();
    this.watchers.clear();
    this.halt();
  }

  /** One sample of every watched sale, sent to its watchers; public so that tests drive it with their clock. */
  async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const reading = await this.s.probe.read();
      this.emit(reading);
    } finally {
      this.sampling = false;
    }
  }

  /** One sale's sample as it would be sent now (the page's first paint). */
  async snapshot(saleId: number): Promise<LiveSnapshot | null> {
    const last = this.history.get(saleId)?.at(-1);
    if (last && this.clock() - last.at < 2 * this.everyMs) return last;
    return this.build(saleId, await this.s.probe.read(), this.clock(), null, this.s.meter.counts(), null);
  }

  private emit(reading: ProbeReading): void {
    const now = this.clock();
    const counts = this.s.meter.counts();
    const prev = this.prev;
    const sold = new Map<number, number>();
    for (const [saleId, set] of this.watchers) {
      const snap = this.build(saleId, reading, now, prev, counts, prev?.sold.get(saleId) ?? null);
      if (!snap) continue;
      sold.set(saleId, snap.sold);
      let h = this.history.get(saleId);
      if (!h) this.history.set(saleId, (h = []));
      h.push(snap);
      if (h.length > HISTORY) h.shift();
      const frame = `event: sample\ndata: ${JSON.stringify(snap)}\n\n`;
      for (const w of set) w.send(frame);
    }
    for (const id of this.history.keys()) if (!this.s.book.get(id)) this.history.delete(id);
    this.prev = { at: now, counts, sold };
  }

  private build(
    saleId: number,
    reading: ProbeReading,
    now: number,
    prev: { at: number; counts: Record<string, number> } | null,
    counts: Record<string, number>,
    soldBefore: number | null,
  ): LiveSnapshot | null {
    const { book, lifecycle } = this.s;
    const w = book.get(saleId);
    const phase = lifecycle.phase(saleId, now);
    if (!w || !phase) return null;
    const left = book.inventory.remaining(saleId);
    const sold = w.stock - left;
    const seconds = prev ? Math.max(0.001, (now - prev.at) / 1000) : 0;
    const refusedPerSecond: Record<string, number> = {};
    const refusedTotal: Record<string, number> = {};
    for (const [code, n] of Object.entries(counts)) {
      if (code === 'ACCEPTED' || n === 0) continue;
      refusedTotal[code] = n;
      const d = prev ? n - (prev.counts[code] ?? 0) : 0;
      if (d > 0) refusedPerSecond[code] = round(d / seconds);
    }
    if (phase === 'sold_out' || phase === 'ended') void lifecycle.ensureSummary(saleId);
    return {
      at: now,
      saleId,
      phase,
      startsAt: w.startsAt,
      endsAt: w.endsAt,
      stock: w.stock,
      left,
      sold,
      acceptedPerSecond: prev && soldBefore !== null ? round(Math.max(0, sold - soldBefore) / seconds) : 0,
      refusedPerSecond,
      refusedTotal,
      sellOutMs: lifecycle.sellOutMs(saleId) ?? lifecycle.summary(saleId)?.sellOutMs ?? null,
      pending: this.s.tracker.pendingCount(),
      queueDepth: reading.queueDepth,
      deadLetters: reading.deadLetters,
      lagMs: round(this.s.lag.lag()),
      health: { database: reading.database, broker: reading.broker, writer: reading.writer },
      summary: lifecycle.summary(saleId),
    };
  }

  private unwatch(saleId: number, w: Watcher): void {
    const set = this.watchers.get(saleId);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) this.watchers.delete(saleId);
    if (this.watchers.size === 0) this.halt();
  }

  private halt(): void {
    this.stopTicking?.();
    this.stopTicking = null;
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
