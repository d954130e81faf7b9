// CSRF protection for every state-changing request: a per-browser secret in an HttpOnly cookie, a token
// derived from it in each form (`_csrf`) or script (`X-CSRF-Token`), and a same-origin check on `Origin`.
import type { NextFunction, Request, Response } from 'express';
import Tokens from 'csrf';
import { ForbiddenError } from '../errors';

const SECRET_COOKIE = 'csrf';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const tokens = new Tokens();

export function csrfProtection() {
  return (req: Request, res: Response, next: NextFunction): void => {
    let secret: string | undefined = req.cookies?.[SECRET_COOKIE];
    if (!secret || typeof secret !== 'string') {
      secret = tokens.secretSync();
      res.cookie(SECRET_COOKIE, secret, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/' });
    }
    if (!SAFE.has(req.method)) {
      if (!sameOrigin(req)) throw new ForbiddenError('CROSS_SITE', 'Cross-site requests are refused.');
      const sent = (req.body && typeof req.body === 'object' ? req.body._csrf : undefined) ?? req.get('x-csrf-token');
      if (typeof sent !== 'string' || !tokens.verify(secret, sent)) {
        throw new ForbiddenError('CSRF', 'The form has expired; reload the page and try again.');
      }
    }
    res.locals.csrfToken = tokens.create(secret);
    next();
  };
}

/** A request without Origin (same-origin form posts in some browsers, tools) passes on its token alone. */
export function sameOrigin(req: { headers: { origin?: string; host?: string; 'sec-fetch-site'?: string } }): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  // Browsers send "null" under strict referrer policies; their own fetch metadata then says where it came from.
  if (origin === 'null') return req.headers['sec-fetch-site'] === 'same-origin';
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
