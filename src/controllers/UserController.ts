import type { Request, Response } from 'express';
import { AppError, ConflictError } from '../errors';
import { SESSION_COOKIE } from '../middleware/auth';
import { wantsJson } from '../middleware/errorHandler';
import type { AccountService } from '../services/AccountService';
import { loginSchema, parseForm, registerSchema } from './validation';

export class UserController {
  constructor(
    private readonly accounts: AccountService,
    private readonly sessionTtlMs: number,
  ) {}

  registerForm = (_req: Request, res: Response): void => {
    res.render('user/register', { title: 'Create an account', errors: {}, values: {} });
  };

  register = async (req: Request, res: Response): Promise<void> => {
    const input = parseForm(registerSchema, req, res, 'user/register', { title: 'Create an account' });
    if (!input) return;
    let user;
    try {
      user = await this.accounts.register(input.userName, input.nickName, input.password);
    } catch (err) {
      if (!(err instanceof ConflictError) || wantsJson(req)) throw err;
      res.status(409).render('user/register', { title: 'Create an account', errors: { userName: 'is taken' }, values: req.body });
      return;
    }
    this.startSession(req, res, user.id);
    if (wantsJson(req)) res.status(201).json({ ok: true, user });
    else res.redirect(303, '/');
  };

  loginForm = (req: Request, res: Response): void => {
    res.render('user/login', { title: 'Log in', errors: {}, values: {}, next: safeNext(req.query.next) });
  };

  login = async (req: Request, res: Response): Promise<void> => {
    const next = safeNext(req.body?.next);
    const input = parseForm(loginSchema, req, res, 'user/login', { title: 'Log in', next });
    if (!input) return;
    const user = await this.accounts.authenticate(input.userName, input.password);
    if (!user) {
      if (wantsJson(req)) throw new AppError(401, 'BAD_CREDENTIALS', 'Wrong user name or password.');
      res.status(401).render('user/login', {
        title: 'Log in',
        errors: { password: 'Wrong user name or password.' },
        values: { userName: input.userName },
        next,
      });
      return;
    }
    this.startSession(req, res, user.id);
    if (wantsJson(req)) res.json({ ok: true, user });
    else res.redirect(303, next);
  };

  logout = (req: Request, res: Response): void => {
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    if (wantsJson(req)) res.json({ ok: true });
    else res.redirect(303, '/');
  };

  private startSession(req: Request, res: Response, userId: number): void {
    res.cookie(SESSION_COOKIE, this.accounts.issueSession(userId), {
      httpOnly: true,
      sameSite: 'lax',
      secure: req.secure,
      path: '/',
      maxAge: this.sessionTtlMs,
    });
  }
}

/** Only same-site paths, so the login form cannot be used to redirect elsewhere. */
function safeNext(raw: unknown): string {
  return typeof raw === 'string' && /^\/(?!\/)[\w\-./?=&%]*$/.test(raw) ? raw : '/';
}
