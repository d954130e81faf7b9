// Order status for shoppers and order lists for admins.
import { NotFoundError } from '../errors';
import { OrderRecord, OrderRepository, OrderWithBuyer } from '../repositories/OrderRepository';
import type { OrderTracker } from './OrderTracker';

export type OrderState = 'pending' | 'confirmed' | 'failed';

export class OrderService {
  constructor(
    private readonly orders: OrderRepository,
    private readonly tracker: OrderTracker,
  ) {}

  /** A shopper's own request: pending until its row is written, then confirmed. */
  async status(requestId: string, userId: number): Promise<{ requestId: string; saleId: number; status: OrderState }> {
    const tracked = this.tracker.get(requestId);
    if (tracked && tracked.userId === userId) return { requestId, saleId: tracked.saleId, status: tracked.state };
    const row = await this.orders.findByRequestId(requestId);
    if (!row || row.userId !== userId) throw new NotFoundError('Order');
    return { requestId, saleId: row.saleId, status: 'confirmed' };
  }

  /** Accepted requests of this shopper whose rows are not written yet. */
  pendingForUser(userId: number): { requestId: string; saleId: number; status: OrderState }[] {
    return this.tracker.forUser(userId).map((t) => ({ requestId: t.requestId, saleId: t.saleId, status: t.state }));
  }

  listForUser(userId: number): Promise<OrderRecord[]> {
    return this.orders.listByUser(userId);
  }

  listForSale(saleId: number): Promise<OrderRecord[]> {
    return this.orders.listBySale(saleId);
  }

  /** The sale's orders with who bought (user name, nick name), those matching `search` or all, at most `limit`. */
  listForSaleWithBuyers(saleId: number, search: string, limit: number): Promise<{ orders: OrderWithBuyer[]; matched: number }> {
    return this.orders.listBySaleWithBuyers(saleId, search, limit);
  }

  countForSale(saleId: number): Promise<number> {
    return this.orders.countBySale(saleId);
  }
}
