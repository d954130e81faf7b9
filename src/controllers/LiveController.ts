// The live sale dashboard: the page, and its Server-Sent Events from the one shared sampler (LiveSampler).
import type { Request, Response } from 'express';
import type { CatalogService } from '../services/CatalogService';
import type { LiveSampler } from '../services/LiveSampler';
import { utcTime } from '../lib/utcTime';
import { parseId } from './validation';

export class LiveController {
  constructor(
    private readonly catalog: CatalogService,
    private readonly live: LiveSampler,
  ) {}

  /** The page: the current sample drawn on the server, so it reads without its script too. */
  page = async (req: Request, res: Response): Promise<void> => {
    const sale = await this.catalog.getSale(parseId(req.params.id, 'sale id'));
    const snapshot = await this.live.snapshot(sale.id);
    res.render('admin/sales/live', { title: `Live: ${sale.product.name}`, sale, snapshot, utc: utcTime });
  };

  /** `text/event-stream`: the sale's recent history, then one `sample` event about every second. */
  events = async (req: Request, res: Response): Promise<void> => {
    const sale = await this.catalog.getSale(parseId(req.params.id, 'sale id'));
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // A buffering proxy (nginx) would hold the events back.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const stop = this.live.watch(sale.id, {
      send: (frame) => void res.write(frame),
      end: () => res.end(),
    });
    req.on('close', stop);
  };
}
