// The one error handler: AppErrors answer with their status and code; anything else is a 500 that hides
// its details. JSON for API clients, an HTML page for browsers.
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError, NotFoundError } from '../errors';

interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
}

export function notFound(_req: Request, _res: Response, next: NextFunction): void {
  next(new NotFoundError());
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as HttpishError;
  const status = e?.status ?? e?.statusCode;
  // body-parser and static-file errors carry a status and are safe to show.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (e.type === 'entity.too.large') return new AppError(413, 'BODY_TOO_LARGE', 'The request body is too large.');
    if (e.type === 'entity.parse.failed') return new AppError(400, 'MALFORMED_BODY', 'The request body is not valid JSON.');
    if (status === 404) return new NotFoundError();
    return new AppError(status, 'BAD_REQUEST', 'The request could not be understood.');
  }
  return new AppError(500, 'INTERNAL', 'Something went wrong on our side. Please try again.');
}

export function wantsJson(req: Request): boolean {
  if (req.path.startsWith('/api/') || req.path === '/healthz') return true;
  return req.accepts(['html', 'json']) === 'json';
}

export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const appError = toAppError(err);
    if (appError.status >= 500) log.error({ err, url: req.originalUrl }, 'unhandled error');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (appError.retryAfterSeconds) res.set('Retry-After', String(appError.retryAfterSeconds));
    res.status(appError.status);
    const body = { ok: false, code: appError.code, message: appError.message, ...(appError.details ?? {}) };
    if (wantsJson(req)) {
      res.json(body);
      return;
    }
    const view = appError.status === 404 ? 'errors/404' : 'errors/error';
    res.render(view, { title: appError.status === 404 ? 'Not found' : 'Error', error: body, status: appError.status });
  };
}
