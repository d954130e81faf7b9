// Per-IP limits for the Express routes (register, captcha, ticket), and the page bucket. Login has its own (services/LoginGuard).
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
