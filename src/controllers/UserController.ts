import type { Request, Response } from 'express';
import type { CookieSettings } from '../config/loadConfig';
import { AppError, ConflictError, REFUSALS, Refusal, ValidationError } from '../errors';
import { wantsJson } from '../middleware/errorHandler';
import type { AccountService } from '../services/AccountService';
import type { LoginGuard } from '../services/LoginGuard';
import type { ShardCookie } from '../middleware/shardCookie';
import type { ProofChallenge, ProofOfWork } from '../services/ProofOfWork';
import { deleteAccountSchema, loginSchema, parseForm, passwordChangeSchema, registerSchema } from './validation';

export class UserController {
  constructor(
    private readonly accounts: AccountService,
    private readonly logins: LoginGuard,
    private readonly proofs: ProofOfWork,
    private readonly sessionTtlMs: number,
    private readonly cookies: CookieSettings,
    private readonly shard: ShardCookie,
  ) {}

  registerForm = async (_req: Request, res: Response): Promise<void> => {
    res.render('user/register', await this.registerLocals());
  };

  register = async (req: Request, res: Response): Promise<void> => {
    const input = parseForm(registerSchema, req, res, 'user/register', await this.registerLocals());
    if (!input) return;
    // The fields first, so that a person hears about a common password before anything else.
    const proof = await this.proofs.verify(input.proof, 'register');
    if (proof !== 'ok') {
      const refusal = proof === 'missing' ? REFUSALS.CHALLENGE_REQUIRED : REFUSALS.CHALLENGE_INVALID;
      const challenge = await this.proofs.challenge('register');
      if (wantsJson(req)) throw withChallenge(refusal, challenge);
      res.status(refusal.status).render('user/register', { ...(await this.registerLocals(challenge)), values: req.body, formError: refusal.message });
      return;
    }
    let user;
    try {
      user = await this.accounts.register(input.userName, input.nickName, input.password);
    } catch (err) {
      if (!(err instanceof ConflictError) || wantsJson(req)) throw err;
      res.status(409).render('user/register', { ...(await this.registerLocals()), errors: { userName: 'is taken' }, values: req.body });
      return;
    }
    this.startSession(req, res, this.accounts.issueSession(user.id), user.id);
    if (wantsJson(req)) res.status(201).json({ ok: true, user });
    else res.redirect(303, '/');
  };

  loginForm = (req: Request, res: Response): void => {
    res.render('user/login', { title: 'Log in', errors: {}, values: {}, next: safeNext(req.query.next), pow: null });
  };

  login = async (req: Request, res: Response): Promise<void> => {
    const next = safeNext(req.body?.next);
    const input = parseForm(loginSchema, req, res, 'user/login', { title: 'Log in', next, pow: null });
    if (!input) return;
    const outcome = await this.logins.logIn(input.userName, input.password, req.ip ?? '', input.proof);
    if (!outcome.ok) {
      const { refusal, challenge, retryAfterSeconds } = outcome;
      if (wantsJson(req)) throw withChallenge(refusal, challenge, retryAfterSeconds);
      if (retryAfterSeconds) res.set('Retry-After', String(retryAfterSeconds));
      res.status(refusal.status).render('user/login', {
        title: 'Log in',
        errors: { password: refusal.message },
        values: { userName: input.userName },
        next,
        pow: challenge ? JSON.stringify(challenge) : null,
      });
      return;
    }
    this.startSession(req, res, this.accounts.issueSession(outcome.user.id), outcome.user.id);
    if (wantsJson(req)) res.json({ ok: true, user: outcome.user });
    else res.redirect(303, next);
  };

  /** Logging out ends every login of the shopper, so a copied cookie stops working too. */
  logout = async (req: Request, res: Response): Promise<void> => {
    if (req.userId !== undefined) await this.accounts.revokeSessions(req.userId);
    this.endSession(res);
    if (wantsJson(req)) res.json({ ok: true });
    else res.redirect(303, '/');
  };

  account = (req: Request, res: Response): void => {
    res.render('user/account', { title: 'Your account', errors: {}, values: {}, notice: req.query.changed === '1' ? 'Your password is changed; your other logins have ended.' : null });
  };

  changePassword = async (req: Request, res: Response): Promise<void> => {
    const locals = { title: 'Your account', notice: null };
    const input = parseForm(passwordChangeSchema, req, res, 'user/account', locals);
    if (!input) return;
    const cookie = await fieldsOr(req, res, 'user/account', locals, () =>
      this.accounts.changePassword(req.userId!, input.currentPassword, input.newPassword),
    );
    if (cookie === null) return;
    this.startSession(req, res, cookie, req.userId!);
    if (wantsJson(req)) res.json({ ok: true });
    else res.redirect(303, '/user/account?changed=1');
  };

  deleteAccount = async (req: Request, res: Response): Promise<void> => {
    const locals = { title: 'Your account', notice: null };
    const input = parseForm(deleteAccountSchema, req, res, 'user/account', locals);
    if (!input) return;
    const done = await fieldsOr(req, res, 'user/account', locals, async () => {
      await this.accounts.deleteAccount(req.userId!, input.password);
      return true;
    });
    if (done === null) return;
    this.endSession(res);
    if (wantsJson(req)) res.json({ ok: true });
    else res.redirect(303, '/');
  };

  private async registerLocals(challenge?: ProofChallenge) {
    const pow = JSON.stringify(challenge ?? (await this.proofs.challenge('register')));
    return { title: 'Create an account', errors: {}, values: {}, pow, formError: null };
  }

  private endSession(res: Response): void {
    res.clearCookie(this.cookies.session, { path: '/', secure: this.cookies.secure, httpOnly: true, sameSite: 'lax' });
    this.shard.clear(res);
  }

  /** The login cookie and the balancer's key for the same shopper, with the same lifetime. */
  private startSession(req: Request, res: Response, token: string, userId: number): void {
    res.cookie(this.cookies.session, token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.cookies.secure || req.secure,
      path: '/',
      maxAge: this.sessionTtlMs,
    });
    this.shard.set(req, res, userId);
  }
}

/** A refusal as an error for JSON clients, with the challenge to solve when there is one. */
function withChallenge(refusal: Refusal, challenge?: ProofChallenge, retryAfterSeconds?: number): AppError {
  return new AppError(refusal.status, refusal.code, refusal.message, challenge ? { challenge } : undefined, retryAfterSeconds);
}

/** Runs a service call; a field the service refuses (a wrong current password) goes back to the form (HTML) or the error handler (JSON). */
async function fieldsOr<T>(req: Request, res: Response, view: string, locals: object, action: () => Promise<T>): Promise<T | null> {
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof ValidationError) || wantsJson(req)) throw err;
    res.status(400).render(view, { ...locals, errors: err.fields, values: {} });
    return null;
  }
}

/** Only same-site paths, so the login form cannot be used to redirect elsewhere. */
function safeNext(raw: unknown): string {
  return typeof raw === 'string' && /^\/(?!\/)[\w\-./?=&%]*$/.test(raw) ? raw : '/';
}
