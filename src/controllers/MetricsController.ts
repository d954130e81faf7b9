// GET /metrics: the Prometheus text format, for whoever METRICS and METRICS_TOKEN let in (loopback by default).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config/loadConfig';
import type { ShopMetrics } from '../services/ShopMetrics';

export class MetricsController {
  private readonly tokenDigest: Buffer | null;

  constructor(
    private readonly metrics: Pick<ShopMetrics, 'text' | 'contentType'>,
    private readonly access: Config['metrics'],
  ) {
    this.tokenDigest = access.token ? digest(access.token) : null;
  }

  scrape = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (this.access.access === 'off') return next(); // the 404 page: as if there were no such URL
    if (!this.allowed(req)) {
      res.status(403).type('text/plain').set('Cache-Control', 'no-store').send(
        this.tokenDigest ? 'metrics: loopback only, or Authorization: Bearer <METRICS_TOKEN>\n' : 'metrics: loopback only (see METRICS)\n',
      );
      return;
    }
    const body = await this.metrics.text();
    res.status(200).set('Content-Type', this.metrics.contentType).set('Cache-Control', 'no-store').send(body);
  };

  /** The token opens it from anywhere; without it, the client's address decides (req.ip, under TRUST_PROXY). */
  private allowed(req: Request): boolean {
    if (this.tokenDigest) {
      const auth = req.get('authorization') ?? '';
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (m && timingSafeEqual(digest(m[1]), this.tokenDigest)) return true;
    }
    return this.access.access === 'open' || isLoopback(req.ip ?? '');
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** 127.0.0.0/8 and ::1, also as IPv4 seen through an IPv6 socket. */
export function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
