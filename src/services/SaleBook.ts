// The in-memory sale table the purchase funnel reads: sale windows, stock left and who has bought.
// Kept behind a small interface: one process holds the whole stock (MemoryInventory), an instance among
// several sells from its leased slice (LeasedInventory).
import { REFUSALS, Refusal } from '../errors';

export interface SaleWindow {
  id: number;
  startsAt: number;
  endsAt: number;
  stock: number;
  /** A draw sale's end of entries (epoch ms); 0 for a first-come sale. */
  drawEndsAt: number;
}

/** The book's window of a sale record: a draw sale's entries end `drawWindowSeconds` after its opening. */
export function saleWindow(s: { id: number; startsAt: Date; endsAt: Date; stock: number; allocation?: string; drawWindowSeconds?: number }): SaleWindow {
  const startsAt = s.startsAt.getTime();
  const drawEndsAt = s.allocation === 'draw' ? startsAt + (s.drawWindowSeconds ?? 0) * 1000 : 0;
  return { id: s.id, startsAt, endsAt: s.endsAt.getTime(), stock: s.stock, drawEndsAt };
}

/**
 * Where a sale's draw stands: 'none' for a first-come sale; 'entering' until its window ends (attempts become
 * entries); 'drawing' from then until this process knows the draw has run; 'drawn' after (first come again).
 */
export type DrawPhase = 'none' | 'entering' | 'drawing' | 'drawn';

export type EntryState = 'none' | 'entered' | 'won' | 'lost';

interface Draw {
  entrants: Set<number>;
  winners: Set<number> | null;
}

/**
 * Who has entered each draw sale, and after the draw who won: so a second entry is refused, and the sale
 * page told its shopper's outcome, without a database read.
 */
export class DrawBook {
  private readonly draws = new Map<number, Draw>();

  /** Entries from the database; `winners` once the draw has run, else null. */
  load(saleId: number, entrants: Iterable<number>, winners: Iterable<number> | null): void {
    this.draws.set(saleId, { entrants: new Set(entrants), winners: winners ? new Set(winners) : null });
  }

  forget(saleId: number): void {
    this.draws.delete(saleId);
  }

  isDrawn(saleId: number): boolean {
    return this.draws.get(saleId)?.winners != null;
  }

  hasEntered(saleId: number, userId: number): boolean {
    return this.draws.get(saleId)?.entrants.has(userId) ?? false;
  }

  /** Marks the shopper as entered before the entry is written, so a second try is refused meanwhile. */
  mark(saleId: number, userId: number): void {
    let d = this.draws.get(saleId);
    if (!d) this.draws.set(saleId, (d = { entrants: new Set(), winners: null }));
    d.entrants.add(userId);
  }

  unmark(saleId: number, userId: number): void {
    this.draws.get(saleId)?.entrants.delete(userId);
  }

  entries(saleId: number): number {
    return this.draws.get(saleId)?.entrants.size ?? 0;
  }

  entryState(saleId: number, userId: number): EntryState {
    const d = this.draws.get(saleId);
    if (!d || !d.entrants.has(userId)) return 'none';
    if (!d.winners) return 'entered';
    return d.winners.has(userId) ? 'won' : 'lost';
  }
}

/** Where a sale stands in time; the one definition the funnel, the pages and the catalog use. */
export type WindowState = 'not_found' | 'upcoming' | 'live' | 'ended';

export function windowState(window: { startsAt: number; endsAt: number } | undefined, now: number): WindowState {
  if (!window) return 'not_found';
  if (now < window.startsAt) return 'upcoming';
  return now < window.endsAt ? 'live' : 'ended';
}

const WINDOW_REFUSALS: Record<WindowState, Refusal | null> = {
  not_found: REFUSALS.SALE_NOT_FOUND,
  upcoming: REFUSALS.NOT_STARTED,
  live: null,
  ended: REFUSALS.SALE_ENDED,
};

export type ReserveResult = 'reserved' | 'sold_out' | 'already_bought';

/** Stock and buyers per sale. `tryReserve` is the single atomic step that decides a purchase. */
export interface Inventory {
  load(saleId: number, remaining: number, buyers: Iterable<number>): void;
  forget(saleId: number): void;
  remaining(saleId: number): number;
  isSoldOut(saleId: number): boolean;
  hasBought(saleId: number, userId: number): boolean;
  /** True while this shopper must wait for stock this process cannot sell yet (several instances only). */
  stalled(saleId: number, userId: number, now: number): boolean;
  tryReserve(saleId: number, userId: number): ReserveResult;
  /** The stock lease a unit reserved now comes from (several instances only). */
  leaseOf(saleId: number): number | undefined;
  /** Gives a unit back after a publish that surely failed (into `leaseId`, the lease it came from). */
  release(saleId: number, userId: number, leaseId?: number): void;
}

interface Stock {
  remaining: number;
  buyers: Set<number>;
}

export class MemoryInventory implements Inventory {
  private readonly stocks = new Map<number, Stock>();

  load(saleId: number, remaining: number, buyers: Iterable<number>): void {
    this.stocks.set(saleId, { remaining: Math.max(0, remaining), buyers: new Set(buyers) });
  }

  forget(saleId: number): void {
    this.stocks.delete(saleId);
  }

  remaining(saleId: number): number {
    return this.stocks.get(saleId)?.remaining ?? 0;
  }

  isSoldOut(saleId: number): boolean {
    const s = this.stocks.get(saleId);
    return !s || s.remaining <= 0;
  }

  hasBought(saleId: number, userId: number): boolean {
    return this.stocks.get(saleId)?.buyers.has(userId) ?? false;
  }

  stalled(): boolean {
    return false;
  }

  leaseOf(): undefined {
    return undefined;
  }

  tryReserve(saleId: number, userId: number): ReserveResult {
    const s = this.stocks.get(saleId);
    if (!s || s.remaining <= 0) return 'sold_out';
    if (s.buyers.has(userId)) return 'already_bought';
    s.remaining -= 1;
    s.buyers.add(userId);
    return 'reserved';
  }

  release(saleId: number, userId: number): void {
    const s = this.stocks.get(saleId);
    if (!s || !s.buyers.delete(userId)) return;
    s.remaining += 1;
  }
}

/** Sale windows by id, for the funnel's time checks without a database read. */
export class SaleBook {
  private readonly windows = new Map<number, SaleWindow>();

  readonly draws = new DrawBook();

  constructor(readonly inventory: Inventory) {}

  /** A window without `drawEndsAt` is a first-come sale's. */
  put(window: Omit<SaleWindow, 'drawEndsAt'> & { drawEndsAt?: number }): void {
    const { id, startsAt, endsAt, stock, drawEndsAt = 0 } = window;
    this.windows.set(id, { id, startsAt, endsAt, stock, drawEndsAt });
  }

  remove(saleId: number): void {
    this.windows.delete(saleId);
    this.inventory.forget(saleId);
    this.draws.forget(saleId);
  }

  get(saleId: number): SaleWindow | undefined {
    return this.windows.get(saleId);
  }

  windowState(saleId: number, now: number): WindowState {
    return windowState(this.windows.get(saleId), now);
  }

  /** Why a purchase in this sale is refused at this moment, or null while it is live. */
  windowRefusal(saleId: number, now: number): Refusal | null {
    return WINDOW_REFUSALS[windowState(this.windows.get(saleId), now)];
  }

  drawPhase(saleId: number, now: number): DrawPhase {
    const w = this.windows.get(saleId);
    if (!w || w.drawEndsAt === 0) return 'none';
    if (now < w.drawEndsAt) return 'entering';
    return this.draws.isDrawn(saleId) ? 'drawn' : 'drawing';
  }

  all(): SaleWindow[] {
    return [...this.windows.values()];
  }
}
