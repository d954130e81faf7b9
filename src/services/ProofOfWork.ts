// Proof-of-work challenges (altcha-lib): a browser spends about a second of CPU on one, without the person
// doing anything, before it may register or log in to an account under attack. A farm of scripts pays the
// same for each account it makes or each password it tries.
import { createHmac, randomInt } from 'node:crypto';
import { createChallenge, verifySolution, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';

export type ProofPurpose = 'register' | 'login';
export type ProofCheck = 'ok' | 'missing' | 'invalid' | 'expired' | 'used' | 'too_easy';

/** What the browser receives: the challenge, as altcha-lib's solver takes it. */
export type ProofChallenge = Challenge;

/** Spent proofs remembered at most; past it the oldest half is forgotten (they expire anyway). */
const SPENT_LIMIT = 100_000;

export class ProofOfWork {
  private readonly secret: string;
  /** Signature of each proof accepted, with its expiry: a proof counts once. */
  private readonly spent = new Map<string, number>();

  constructor(
    key: Buffer,
    /** The solver's expected work is half this many hashes. */
    private readonly cost: number,
    private readonly ttlMs = 10 * 60_000,
    private readonly clock: () => number = Date.now,
  ) {
    // A key of its own, derived from the cookie key, so that neither can stand in for the other.
    this.secret = createHmac('sha256', key).update('proof-of-work').digest('hex');
  }

  /**
   * A challenge for `purpose` (and for `subject`, a user name, when given), `factor` times the usual work.
   * The purpose, subject and work are signed into it, so a proof counts only for what it was made for.
   */
  async challenge(purpose: ProofPurpose, subject = '', factor = 1): Promise<ProofChallenge> {
    const max = Math.max(1, Math.round(this.cost * factor));
    return createChallenge({
      algorithm: 'SHA-256',
      cost: 1,
      counter: randomInt(0, max),
      deriveKey,
      data: { purpose, subject, max },
      expiresAt: Math.floor((this.clock() + this.ttlMs) / 1000),
      hmacSignatureSecret: this.secret,
    });
  }

  /** Checks a solved proof (base64 JSON of `{challenge, solution}`) and, when it is good, spends it. */
  async verify(proof: string | undefined, purpose: ProofPurpose, subject = '', factor = 1): Promise<ProofCheck> {
    if (!proof) return 'missing';
    let payload: { challenge?: Challenge; solution?: { counter: number; derivedKey: string } };
    try {
      payload = JSON.parse(Buffer.from(proof, 'base64').toString('utf8'));
    } catch {
      return 'invalid';
    }
    const { challenge, solution } = payload ?? {};
    if (!challenge?.parameters || typeof challenge.signature !== 'string' || !solution) return 'invalid';
    let result;
    try {
      result = await verifySolution({ challenge, solution, deriveKey, hmacSignatureSecret: this.secret });
    } catch {
      return 'invalid';
    }
    if (result.expired) return 'expired';
    if (!result.verified) return 'invalid';
    const data = challenge.parameters.data ?? {};
    if (data.purpose !== purpose || data.subject !== subject) return 'invalid';
    if (typeof data.max !== 'number' || data.max < Math.round(this.cost * factor)) return 'too_easy';
    const now = this.clock();
    if ((this.spent.get(challenge.signature) ?? 0) > now) return 'used';
    this.remember(challenge.signature, (challenge.parameters.expiresAt ?? 0) * 1000, now);
    return 'ok';
  }

  private remember(signature: string, expiresAt: number, now: number): void {
    if (this.spent.size >= SPENT_LIMIT) {
      for (const [s, until] of this.spent) if (until <= now) this.spent.delete(s);
      if (this.spent.size >= SPENT_LIMIT) {
        let n = 0;
        for (const s of this.spent.keys()) if (n++ < SPENT_LIMIT / 2) this.spent.delete(s);
      }
    }
    this.spent.set(signature, expiresAt);
  }
}
