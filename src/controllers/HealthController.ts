import type { Request, Response } from 'express';
import type { OrderQueue } from '../queue/OrderQueue';
import type { PurchaseService } from '../services/PurchaseService';

export class HealthController {
  constructor(
    private readonly database: { kind: string; ping(): Promise<boolean> },
    private readonly queue: OrderQueue,
    private readonly purchases: PurchaseService,
  ) {}

  health = async (_req: Request, res: Response): Promise<void> => {
    const [dbUp, depth] = await Promise.all([this.database.ping(), this.queue.depth().catch(() => null)]);
    const queueUp = this.queue.isConnected();
    const ok = dbUp && queueUp;
    res
      .status(ok ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({
        ok,
        database: { kind: this.database.kind, up: dbUp },
        queue: { kind: this.queue.kind, up: queueUp, depth },
        sales: this.purchases.isOpen() ? 'open' : 'starting',
      });
  };
}
