import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

export function requestLogger(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = performance.now();
    res.on('finish', () => {
      log.debug(
        { method: req.method, url: req.originalUrl, status: res.statusCode, ms: +(performance.now() - start).toFixed(1) },
        'request',
      );
    });
    next();
  };
}
