// Start-up order that makes restarts safe: write everything still queued, then rebuild the funnel's memory
// (stock left and buyers) from the database, and only then open the sales.
import type { Logger } from 'pino';
import type { OrderQueue } from '../queue/OrderQueue';
import type { OrderWriter } from '../queue/OrderWriter';
import type { OrderRepository } from '../repositories/OrderRepository';
import type { SaleRepository } from '../repositories/SaleRepository';
import type { BlacklistService } from './BlacklistService';
import type { PurchaseFunnel } from './PurchaseFunnel';
import { type SaleBook, saleWindow } from './SaleBook';

export class RecoveryService {
  constructor(
    private readonly queue: Pick<OrderQueue, 'depth' | 'isConnected'>,
    private readonly writer: Pick<OrderWriter, 'busy'>,
    private readonly sales: Pick<SaleRepository, 'listEndingAfter'>,
    private readonly orders: Pick<OrderRepository, 'findByRequestId' | 'buyersBySale'>,
    private readonly book: SaleBook,
    private readonly blacklist: Pick<BlacklistService, 'load'>,
    private readonly log: Logger,
  ) {}

  /** Resolves once the queue holds nothing and no batch is being written. */
  async drain(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let quietChecks = 0;
    // Two quiet checks in a row: a message in transit between broker and writer shows as neither.
    while (quietChecks < 2) {
      const depth = await this.queue.depth();
      quietChecks = depth === 0 && !this.writer.busy() ? quietChecks + 1 : 0;
      if (Date.now() > deadline) throw new Error(`order queue not drained after ${timeoutMs} ms (${depth} left)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Publishes whose confirm was lost: once the queue has been seen empty and idle while connected, a message
   * that reached the broker has been written (or dead-lettered), so a request with no order row never
   * arrived and its unit can be sold again.
   */
  async reconcileUncertain(funnel: Pick<PurchaseFunnel, 'uncertainRequests' | 'settleUncertain'>): Promise<void> {
    const uncertain = funnel.uncertainRequests();
    if (uncertain.length === 0 || !this.queue.isConnected()) return;
    await this.drain(2000);
    if (!this.queue.isConnected()) return;
    for (const [requestId] of uncertain) {
      funnel.settleUncertain(requestId, (await this.orders.findByRequestId(requestId)) !== null);
    }
  }

  async rebuild(now = Date.now()): Promise<void> {
    const sales = await this.sales.listEndingAfter(new Date(now));
    const buyers = await this.orders.buyersBySale(sales.map((s) => s.id));
    for (const s of sales) {
      this.book.put(saleWindow(s));
      this.book.inventory.load(s.id, s.remaining, buyers.get(s.id) ?? []);
    }
    await this.blacklist.load();
    this.log.info({ sales: sales.length }, 'sale table rebuilt from the database');
  }
}
