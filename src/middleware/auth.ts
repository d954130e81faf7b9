// Login cookie -> req.userId, and the guards that need a shopper or an admin.
import type { NextFunction, Request, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from '../errors';
import type { AccountService, PublicUser } from '../services/AccountService';

declare module 'express-serve-static-core' {
  interface Request {
    userId?: number;
    user?: PublicUser;
  }
}

/** Reads the login cookie (named `cookieName`) and loads the user for the page; a bad cookie is simply "not logged in". */
export function loadSession(accounts: AccountService, cookieName: string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const userId = accounts.userIdFromSession(req.cookies?.[cookieName]);
    if (userId !== null) {
      const user = await accounts.pageUser(userId);
      if (user) {
        req.userId = userId;
        req.user = user;
      }
    }
    res.locals.currentUser = req.user ?? null;
    next();
  };
}

export function requireLogin(req: Request, _res: Response, next: NextFunction): void {
  if (!req.user) throw new UnauthorizedError();
  next();
}

export function requireAdmin(req: Request, _res: Response, next: NextFunction): void {
  if (!req.user) throw new UnauthorizedError();
  if (req.user.role !== 'admin') throw new ForbiddenError('ADMIN_ONLY', 'This page is for shop administrators.');
  next();
}
