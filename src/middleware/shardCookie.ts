// The `shard` cookie: the balancer's routing key for a logged-in shopper (see docs/CLUSTER.md). Not a secret
// and never trusted by the app; a shopper who changes it only changes which instance serves them.
import type { NextFunction, Request, Response } from 'express';
import type { CookieSettings } from '../config/loadConfig';
import { shardKey } from '../lib/shard';

export const SHARD_COOKIE = 'shard';

export class ShardCookie {
  constructor(
    private readonly key: Buffer,
    private readonly cookies: CookieSettings,
    private readonly ttlMs: number,
  ) {}

  /** Sets the shopper's key with the login's lifetime. */
  set(req: Request, res: Response, userId: number): void {
    res.cookie(SHARD_COOKIE, shardKey(this.key, userId), {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.cookies.secure || req.secure,
      path: '/',
      maxAge: this.ttlMs,
    });
  }

  clear(res: Response): void {
    res.clearCookie(SHARD_COOKIE, { path: '/', secure: this.cookies.secure, httpOnly: true, sameSite: 'lax' });
  }

  /**
   * After loadSession: a logged-in shopper whose browser lacks the key (a login from before the cookie
   * existed, a cleared cookie, a rotated key) gets it on the next page, so the balancer keeps them on one
   * instance from then on.
   */
  keep = (req: Request, res: Response, next: NextFunction): void => {
    if (req.userId !== undefined && req.cookies?.[SHARD_COOKIE] !== shardKey(this.key, req.userId)) this.set(req, res, req.userId);
    next();
  };
}
