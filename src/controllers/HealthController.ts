import type { Request, Response } from 'express';
import type { OrderQueue } from '../queue/OrderQueue';
import type { OrderWriter } from '../queue/OrderWriter';
import type { PurchaseFunnel } from '../services/PurchaseFunnel';

export interface ClusterHealth {
  incarnation: string;
  /** Every buyer of the cluster known here; until then only shoppers served here may buy. */
  settled: boolean;
  members: number;
  /** Leased units held here and not sold. */
  heldUnits: number;
}

export class HealthController {
  constructor(
    private readonly database: { kind: string; ping(): Promise<boolean> },
    private readonly queue: OrderQueue,
    private readonly funnel: Pick<PurchaseFunnel, 'isOpen'>,
    private readonly writer: Pick<OrderWriter, 'where' | 'isUp'>,
    /** With several instances: this one's part (docs/CLUSTER.md). */
    private readonly cluster: (() => ClusterHealth) | null = null,
  ) {}

  health = async (_req: Request, res: Response): Promise<void> => {
    const [dbUp, depth] = await Promise.all([this.database.ping(), this.queue.depth().catch(() => null)]);
    const queueUp = this.queue.isConnected();
    // Purchases still queue while the writer is down, but nothing reaches the database: not healthy.
    const writerUp = this.writer.isUp();
    const ok = dbUp && queueUp && writerUp;
    res
      .status(ok ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({
        ok,
        database: { kind: this.database.kind, up: dbUp },
        queue: { kind: this.queue.kind, up: queueUp, depth },
        writer: { where: this.writer.where, up: writerUp },
        sales: this.funnel.isOpen() ? 'open' : 'starting',
        ...(this.cluster ? { cluster: this.cluster() } : {}),
      });
  };
}
