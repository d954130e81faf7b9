// Each sale's lifecycle, watched from outside the purchase path: structured info logs when a sale opens, when it
// sells out (and how long after its opening), when it ends, and its summary once every accepted order is
// written. The summary is also what the live dashboard shows after the sale.
import type { Logger } from 'pino';
import { Repeat, unrefInterval } from '../lib/LagMonitor';
import type { OrderTracker } from './OrderTracker';
import type { PurchaseMeter } from './PurchaseMeter';
import type { SaleBook } from './SaleBook';

export type LifePhase = 'upcoming' | 'live' | 'sold_out' | 'ended';

/** What the database says of a finished sale. */
export interface SaleRecordings {
  ordersWritten: number;
  /** When its last order was accepted (epoch ms), or null without orders. */
  lastOrderAt: number | null;
  audit: { ok: boolean; failures: string[] };
}

export interface SaleSummary {
  saleId: number;
  stock: number;
  /** Units sold (accepted), as the purchase path counted them. */
  accepted: number;
  /** From the opening to the last unit's acceptance; null when it did not sell out. */
  sellOutMs: number | null;
  /** Purchases refused while the sale was open, by code (this instance, every sale it was selling). */
  refused: Record<string, number>;
  ordersWritten: number;
  audit: { ok: boolean; failures: string[] };
  /** When the summary was taken (epoch ms). */
  at: number;
}

interface Seen {
  phase: LifePhase;
  /** The purchase route's counts when the sale opened (or was first seen open). */
  countsAtOpen: Record<string, number> | null;
  /** ... and when it ended; a sold-out sale's summary counts up to the moment it is taken. */
  countsAtClose: Record<string, number> | null;
  sellOutMs: number | null;
  summary: SaleSummary | null;
  summarising: Promise<SaleSummary | null> | null;
}

export class SaleLifecycle {
  private readonly seen = new Map<number, Seen>();
  private stopTicking: (() => void) | null = null;

  constructor(
    private readonly book: SaleBook,
    private readonly tracker: Pick<OrderTracker, 'lastAcceptedAt' | 'pendingCount'>,
    private readonly meter: Pick<PurchaseMeter, 'counts'>,
    private readonly recordings: (saleId: number) => Promise<SaleRecordings>,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
    private readonly repeat: Repeat = unrefInterval,
    private readonly everyMs = 250,
  ) {}

  start(): void {
    if (this.stopTicking) return;
    this.tick();
    this.stopTicking = this.repeat(() => this.tick(), this.everyMs);
  }

  stop(): void {
    this.stopTicking?.();
    this.stopTicking = null;
  }

  /** Where the sale stands now, by the same rules as the funnel's. */
  phase(saleId: number, now = this.clock()): LifePhase | null {
    const w = this.book.get(saleId);
    if (!w) return null;
    if (now < w.startsAt) return 'upcoming';
    if (now >= w.endsAt) return 'ended';
    return this.book.inventory.isSoldOut(saleId) ? 'sold_out' : 'live';
  }

  sellOutMs(saleId: number): number | null {
    return this.seen.get(saleId)?.sellOutMs ?? null;
  }

  summary(saleId: number): SaleSummary | null {
    return this.seen.get(saleId)?.summary ?? null;
  }

  /**
   * The summary of a sale that is over (sold out or ended) once nothing accepted is still unwritten; taken
   * now if it was not yet (a sale that was already over when the process started). Null while it is not over.
   */
  ensureSummary(saleId: number): Promise<SaleSummary | null> {
    const s = this.seen.get(saleId);
    if (!s || (s.phase !== 'sold_out' && s.phase !== 'ended')) return Promise.resolve(null);
    if (s.summary) return Promise.resolve(s.summary);
    if (this.tracker.pendingCount() > 0) return Promise.resolve(null);
    s.summarising ??= this.summarise(saleId, s).finally(() => {
      s.summarising = null;
    });
    return s.summarising;
  }

  /** One look at every sale; public so that tests drive it with their clock. */
  tick(): void {
    const now = this.clock();
    for (const id of this.seen.keys()) if (!this.book.get(id)) this.seen.delete(id);
    for (const w of this.book.all()) {
      const phase = this.phase(w.id, now)!;
      const s = this.seen.get(w.id);
      if (!s) {
        this.firstSight(w.id, phase, now);
        continue;
      }
      if (phase !== s.phase) this.transition(w.id, s, phase, now);
      if ((s.phase === 'sold_out' || s.phase === 'ended') && !s.summary && s.countsAtOpen) void this.ensureSummary(w.id);
    }
  }

  private firstSight(saleId: number, phase: LifePhase, now: number): void {
    const s: Seen = { phase, countsAtOpen: null, countsAtClose: null, sellOutMs: null, summary: null, summarising: null };
    this.seen.set(saleId, s);
    // A sale already over when the process starts is summarised only on demand (its dashboard), not logged again.
    if (phase === 'live' || phase === 'sold_out') {
      s.countsAtOpen = this.meter.counts();
      const w = this.book.get(saleId)!;
      this.log.info({ event: 'sale_opened', saleId, stock: w.stock, left: this.book.inventory.remaining(saleId), startsAt: iso(w.startsAt), endsAt: iso(w.endsAt), late: now - w.startsAt > 2 * this.everyMs }, 'sale opened');
      if (phase === 'sold_out') this.soldOut(saleId, s, now);
    }
  }

  private transition(saleId: number, s: Seen, phase: LifePhase, now: number): void {
    const w = this.book.get(saleId)!;
    const before = s.phase;
    s.phase = phase;
    if (phase === 'upcoming') {
      // The sale was moved to a later start: a new opening, a new story.
      s.countsAtOpen = s.countsAtClose = null;
      s.sellOutMs = null;
      s.summary = null;
      return;
    }
    if (before === 'upcoming' && phase !== 'ended') {
      s.countsAtOpen = this.meter.counts();
      this.log.info({ event: 'sale_opened', saleId, stock: w.stock, left: this.book.inventory.remaining(saleId), startsAt: iso(w.startsAt), endsAt: iso(w.endsAt), late: now - w.startsAt > 2 * this.everyMs }, 'sale opened');
    }
    if (phase === 'sold_out') this.soldOut(saleId, s, now);
    if (phase === 'ended') {
      s.countsAtClose ??= this.meter.counts();
      const left = this.book.inventory.remaining(saleId);
      this.log.info({ event: 'sale_ended', saleId, stock: w.stock, sold: w.stock - left, left, endsAt: iso(w.endsAt) }, 'sale ended');
    }
  }

  private soldOut(saleId: number, s: Seen, now: number): void {
    const w = this.book.get(saleId)!;
    s.sellOutMs = Math.max(0, (this.tracker.lastAcceptedAt(saleId) ?? now) - w.startsAt);
    this.log.info({ event: 'sale_sold_out', saleId, stock: w.stock, afterMs: s.sellOutMs }, `sale sold out after ${s.sellOutMs} ms`);
  }

  private async summarise(saleId: number, s: Seen): Promise<SaleSummary | null> {
    const w = this.book.get(saleId);
    if (!w) return null;
    let rec: SaleRecordings;
    try {
      rec = await this.recordings(saleId);
    } catch (err) {
      this.log.warn({ saleId, err: (err as Error).message }, 'sale summary deferred');
      return null;
    }
    const left = this.book.inventory.remaining(saleId);
    const sellOutMs = s.sellOutMs ?? (left === 0 && rec.lastOrderAt !== null ? Math.max(0, rec.lastOrderAt - w.startsAt) : null);
    const summary: SaleSummary = {
      saleId,
      stock: w.stock,
      accepted: w.stock - left,
      sellOutMs,
      refused: s.countsAtOpen ? refusedBetween(s.countsAtOpen, s.countsAtClose ?? this.meter.counts()) : {},
      ordersWritten: rec.ordersWritten,
      audit: rec.audit,
      at: this.clock(),
    };
    s.summary = summary;
    if (s.countsAtOpen) this.log.info({ event: 'sale_summary', ...summary }, 'sale summary');
    return summary;
  }
}

/** Refusals between two readings of the purchase route's counts, by code, zeros left out. */
export function refusedBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [code, n] of Object.entries(after)) {
    const d = n - (before[code] ?? 0);
    if (code !== 'ACCEPTED' && d > 0) out[code] = d;
  }
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
