import type { Request, Response } from 'express';
import { z } from 'zod';
import type { CatalogService } from '../services/CatalogService';
import type { OrderService } from '../services/OrderService';
import { parse } from './validation';

const requestIdParam = z.string().regex(/^[\w-]{8,36}$/, 'is not a request id');

export class OrderController {
  constructor(
    private readonly orders: OrderService,
    private readonly catalog: CatalogService,
  ) {}

  /** "My orders": written orders plus the ones still on their way. */
  mine = async (req: Request, res: Response): Promise<void> => {
    const [orders, sales] = await Promise.all([this.orders.listForUser(req.userId!), this.catalog.listSales()]);
    const pending = this.orders.pendingForUser(req.userId!);
    const salesById = new Map(sales.map((s) => [s.id, s]));
    res.render('orders/index', { title: 'My orders', orders, pending, salesById });
  };

  status = async (req: Request, res: Response): Promise<void> => {
    const requestId = parse(requestIdParam, req.params.requestId);
    res.set('Cache-Control', 'no-store').json({ ok: true, ...(await this.orders.status(requestId, req.userId!)) });
  };
}
