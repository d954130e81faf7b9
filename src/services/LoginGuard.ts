// Password guessing, slowed without locking the owner out (OWASP's authentication cheat sheet): failures
// from one address limit that address; failures against one account from one address limit that pair;
// failures against one account from everywhere make every further try on it pay a proof-of-work, which a
// browser solves in about a second and a guessing farm pays for each guess. The right password from an
// address that has not failed is never refused because of someone else's failures.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { REFUSALS, Refusal } from '../errors';
import type { AccountService, PublicUser } from './AccountService';
import type { ProofChallenge, ProofOfWork } from './ProofOfWork';

export interface LoginLimits {
  windowMs: number;
  /** Failures from one address, whatever the account, before it is refused for the rest of the window. */
  ipFails: number;
  /** Failures against one account from one address before that address is refused for it. */
  accountIpFails: number;
  /** Failures against one account from all addresses before each further try needs a proof-of-work. */
  challengeAfter: number;
}

export type LoginOutcome =
  | { ok: true; user: PublicUser }
  | { ok: false; refusal: Refusal; retryAfterSeconds?: number; challenge?: ProofChallenge };

/** The proof-of-work grows with the failures: twice the work for every further `challengeAfter` of them, at most 16 times. */
const MAX_FACTOR = 16;

export class LoginGuard {
  private readonly byIp: RateLimiterMemory;
  private readonly byAccountIp: RateLimiterMemory;
  private readonly byAccount: RateLimiterMemory;

  constructor(
    private readonly accounts: Pick<AccountService, 'authenticate'>,
    private readonly proofs: ProofOfWork,
    private readonly limits: LoginLimits,
  ) {
    // rate-limiter-flexible: atomic counters with expiry, and the same interface over Redis or a database
    // when several instances must share them.
    const duration = Math.ceil(limits.windowMs / 1000);
    this.byIp = new RateLimiterMemory({ keyPrefix: 'login-ip', points: limits.ipFails, duration });
    this.byAccountIp = new RateLimiterMemory({ keyPrefix: 'login-account-ip', points: limits.accountIpFails, duration });
    this.byAccount = new RateLimiterMemory({ keyPrefix: 'login-account', points: limits.challengeAfter, duration });
  }

  /**
   * One login attempt for `userName` (already normalised: the same key the lookup uses) from `ip`. Each
   * attempt is counted as a failure before the password is checked and given back if it was right, so
   * that many attempts at once cannot all pass the limits before any of them is counted.
   */
  async logIn(userName: string, password: string, ip: string, proof?: string): Promise<LoginOutcome> {
    const pair = `${userName}\n${ip}`;
    const fromIp = await this.byIp.penalty(ip, 1);
    if (fromIp.consumedPoints > this.limits.ipFails) {
      await this.byIp.reward(ip, 1);
      return this.refuse(REFUSALS.TOO_MANY_LOGINS, fromIp);
    }
    const fromPair = await this.byAccountIp.penalty(pair, 1);
    if (fromPair.consumedPoints > this.limits.accountIpFails) {
      await Promise.all([this.byIp.reward(ip, 1), this.byAccountIp.reward(pair, 1)]);
      return this.refuse(REFUSALS.TOO_MANY_LOGINS_ACCOUNT, fromPair);
    }
    const failures = (await this.byAccount.get(userName))?.consumedPoints ?? 0;
    if (failures >= this.limits.challengeAfter) {
      const factor = this.workFactor(failures);
      const check = await this.proofs.verify(proof, 'login', userName, factor);
      if (check !== 'ok') {
        // Not a guess: nothing was checked, so nothing is counted.
        await Promise.all([this.byIp.reward(ip, 1), this.byAccountIp.reward(pair, 1)]);
        const refusal = check === 'missing' ? REFUSALS.LOGIN_CHALLENGE : REFUSALS.CHALLENGE_INVALID;
        return { ok: false, refusal, challenge: await this.proofs.challenge('login', userName, factor) };
      }
    }
    await this.byAccount.penalty(userName, 1);
    const user = await this.accounts.authenticate(userName, password);
    if (!user) return { ok: false, refusal: REFUSALS.BAD_CREDENTIALS };
    await Promise.all([this.byIp.reward(ip, 1), this.byAccountIp.delete(pair), this.byAccount.reward(userName, 1)]);
    return { ok: true, user };
  }

  private workFactor(failures: number): number {
    const n = this.limits.challengeAfter;
    return Math.min(MAX_FACTOR, 2 ** Math.floor((failures - n) / n));
  }

  private refuse(refusal: Refusal, res: RateLimiterRes): LoginOutcome {
    return { ok: false, refusal, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
  }
}
