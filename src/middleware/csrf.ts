// CSRF protection for every state-changing request: a per-browser secret in an HttpOnly cookie, a token
// derived from it in each form (`_csrf`) or script (`X-CSRF-Token`), and a same-origin check on `Origin`.
import type { NextFunction, Request, Response } from 'express';
import Tokens from 'csrf';
import type { CookieSettings } from '../config/loadConfig';
import { ForbiddenError } from '../errors';
import type { OriginRequest } from '../lib/originCheck';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const tokens = new Tokens();

/** `cookies` names the secret's cookie and says whether it is Secure; `sameSite` is the shop's originCheck. */
export function csrfProtection(cookies: CookieSettings, sameSite: (req: OriginRequest) => boolean) {
  return (req: Request, res: Response, next: NextFunction): void => {
    let secret: string | undefined = req.cookies?.[cookies.csrf];
    if (!secret || typeof secret !== 'string') {
      secret = tokens.secretSync();
      res.cookie(cookies.csrf, secret, { httpOnly: true, sameSite: 'lax', secure: cookies.secure || req.secure, path: '/' });
    }
    if (!SAFE.has(req.method)) {
      if (!sameSite(req)) throw new ForbiddenError('CROSS_SITE', 'Cross-site requests are refused.');
      const sent = (req.body && typeof req.body === 'object' ? req.body._csrf : undefined) ?? req.get('x-csrf-token');
      if (typeof sent !== 'string' || !tokens.verify(secret, sent)) {
        throw new ForbiddenError('CSRF', 'The form has expired; reload the page and try again.');
      }
    }
    res.locals.csrfToken = tokens.create(secret);
    next();
  };
}
