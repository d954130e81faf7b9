// Draw sales: at the end of a sale's entry window its draw runs, once, in the database (DrawRepository.draw:
// a claim that only one process can win, the winners' orders and every entry's outcome in one transaction).
// Every process ticks; whichever gets there first draws, the others find the sale drawn; all then reload the
// sale's stock, buyers and outcomes so that what is left sells first come. A draw interrupted by a crash
// rolls back and is run again by the next tick, here or elsewhere.
import type { Logger } from 'pino';
import { drawWinnersInSlices } from '../lib/drawShuffle';
import type { DrawRepository } from '../repositories/DrawRepository';
import type { OrderRepository } from '../repositories/OrderRepository';
import type { SaleRepository } from '../repositories/SaleRepository';
import { type SaleBook, saleWindow } from './SaleBook';

/** How often a process looks for draws that are due. */
const TICK_MS = 250;

export class DrawService {
  private ticker: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Draws this process ran (not those it found done): across processes they add up to one per sale. */
  drawsRun = 0;

  constructor(
    private readonly draws: Pick<DrawRepository, 'draw' | 'entriesOf' | 'countEntries'>,
    private readonly sales: Pick<SaleRepository, 'findById' | 'listUndrawn'>,
    private readonly orders: Pick<OrderRepository, 'buyersBySale'>,
    private readonly book: SaleBook,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Loads a draw sale's entries (and, once drawn, its winners, stock left and buyers) from the database. */
  async load(saleId: number): Promise<void> {
    const sale = await this.sales.findById(saleId);
    if (!sale || sale.allocation !== 'draw') return;
    const entries = await this.draws.entriesOf(saleId);
    if (sale.drawState !== 'drawn') {
      this.book.draws.load(saleId, entries.map((e) => e.userId), null);
      return;
    }
    const buyers = (await this.orders.buyersBySale([saleId])).get(saleId) ?? [];
    this.book.inventory.load(saleId, sale.remaining, buyers);
    this.book.draws.load(saleId, entries.map((e) => e.userId), entries.filter((e) => e.outcome === 'won').map((e) => e.userId));
  }

  /**
   * Every draw sale of the book, after the sale table is rebuilt at start; and any sale whose draw never ran
   * (the shop was down past its end), put back in the book so that the next tick draws it.
   */
  async rebuild(): Promise<void> {
    for (const s of await this.sales.listUndrawn()) {
      if (!this.book.get(s.id)) {
        this.book.put(saleWindow(s));
        this.book.inventory.load(s.id, s.remaining, []);
      }
    }
    for (const w of this.book.all()) if (w.drawEndsAt > 0) await this.load(w.id);
  }

  /** Runs the sale's draw if no process has, then reloads it: 'drew' here, or 'found' drawn already. */
  async draw(saleId: number, now = this.clock()): Promise<'drew' | 'found'> {
    const result = await this.draws.draw(saleId, now, (seed, entries, units) => drawWinnersInSlices(seed, entries, units));
    if (result) {
      this.drawsRun += 1;
      this.log.info({ saleId, entries: result.entries, winners: result.winners }, 'draw run');
    }
    await this.load(saleId);
    return result ? 'drew' : 'found';
  }

  /** Every draw whose window has ended and that this process does not yet know as drawn. */
  async runDue(now = this.clock()): Promise<void> {
    for (const w of this.book.all()) {
      if (this.book.drawPhase(w.id, now) === 'drawing') await this.draw(w.id, now);
    }
  }

  /** Entries in the database (every process's) and, once drawn, the winners' user ids, for the admin. */
  async summary(saleId: number): Promise<{ entries: number; winners: number[] }> {
    const entries = await this.draws.entriesOf(saleId);
    return { entries: entries.length, winners: entries.filter((e) => e.outcome === 'won').map((e) => e.userId) };
  }

  start(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => {
      if (this.running) return;
      this.running = this.runDue()
        .catch((err) => this.log.warn({ err: (err as Error).message }, 'draw deferred; tried again on the next tick'))
        .finally(() => {
          this.running = null;
        });
    }, TICK_MS);
    this.ticker.unref();
  }

  /** Stops ticking and waits for a draw under way. */
  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    await this.running;
  }
}
