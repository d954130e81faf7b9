// Per-IP and per-user-name limits for the Express routes (login, register, captcha), and the page bucket.
import type { NextFunction, Request, Response } from 'express';
import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import { REFUSALS, refused, TooManyRequestsError } from '../errors';
import { TokenBucket } from '../lib/TokenBucket';

function limiter(limit: number, windowMs: number, code: string, message: string, key?: (req: Request) => string) {
  return rateLimit({
    windowMs,
    limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: key ?? ((req) => ipKeyGenerator(req.ip ?? '')),
    handler: (_req, _res, next, options) => next(new TooManyRequestsError(code, message, options.windowMs / 1000)),
  });
}

export function loginLimits(perIp: number, perUserName: number, windowMs: number) {
  return [
    limiter(perIp, windowMs, 'TOO_MANY_LOGINS', 'Too many login attempts from your network; wait a little.'),
    limiter(perUserName, windowMs, 'TOO_MANY_LOGINS', 'Too many login attempts for this account; wait a little.', (req) =>
      `user:${String(req.body?.userName ?? '').toLowerCase().slice(0, 64)}`,
    ),
  ];
}

export function ipLimit(limit: number, windowMs: number) {
  return limiter(limit, windowMs, REFUSALS.IP_RATE_LIMITED.code, REFUSALS.IP_RATE_LIMITED.message);
}

/** Global overload guard for pages: a token bucket; when empty, fail fast with 503. */
export function pageBucket(bucket: TokenBucket) {
  return (_req: Request, _res: Response, next: NextFunction): void => {
    if (!bucket.tryTake()) throw refused(REFUSALS.BUSY);
    next();
  };
}
