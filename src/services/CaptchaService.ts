// Captchas handed out from the ready pool and kept server-side under a random id, bound to the shopper and
// the sale: case-insensitive, single-use, short-lived, with a few attempts.
import { randomBytes } from 'node:crypto';
import type { CaptchaPool } from './CaptchaPool';

interface Pending {
  userId: number;
  saleId: number;
  answer: string;
  /** The no-picture check cannot be answered before this moment; 0 for a picture. */
  notBefore: number;
  expiresAt: number;
  attemptsLeft: number;
}

export type CaptchaCheck = 'ok' | 'wrong' | 'expired' | 'early';

export interface IssuedCaptcha {
  id: string;
  /** The picture, as a data URL. */
  image: string;
  expiresAt: number;
}

export class CaptchaService {
  private readonly pending = new Map<string, Pending>();
  /** A double from the start, like the timestamps it will hold. */
  private sweptAt = -Infinity;

  constructor(
    private readonly pool: CaptchaPool,
    /** How long the no-picture check makes its shopper wait: longer than a person takes to read a picture. */
    readonly waitMs = 8_000,
    readonly ttlMs = 120_000,
    private readonly attempts = 3,
  ) {}

  /** A captcha for this shopper and sale, or null when none is ready (the pool is being topped up). */
  issue(userId: number, saleId: number, now = Date.now()): IssuedCaptcha | null {
    this.sweep(now);
    const ready = this.pool.take();
    if (!ready) return null;
    const id = randomBytes(12).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.pending.set(id, { userId, saleId, answer: ready.text.toLowerCase(), notBefore: 0, expiresAt, attemptsLeft: this.attempts });
    return { id, image: ready.image, expiresAt };
  }

  /**
   * The alternative for people who cannot see the picture: no picture, an empty answer, but one that counts
   * only from `waitMs` on, so it is never faster than reading a picture and gives a script no edge.
   */
  issueTimed(userId: number, saleId: number, now = Date.now()): { id: string; answerAfter: number; expiresAt: number } {
    this.sweep(now);
    const id = randomBytes(12).toString('base64url');
    const answerAfter = now + this.waitMs;
    const expiresAt = answerAfter + this.ttlMs;
    this.pending.set(id, { userId, saleId, answer: '', notBefore: answerAfter, expiresAt, attemptsLeft: this.attempts });
    return { id, answerAfter, expiresAt };
  }

  /**
   * Checks an answer without spending the captcha (the purchase spends it once every gate has passed); a
   * wrong answer spends an attempt. Unknown, foreign, spent or expired: 'expired'.
   */
  verify(id: string, userId: number, saleId: number, answer: string, now = Date.now()): CaptchaCheck {
    const p = this.pending.get(id);
    if (!p || p.userId !== userId || p.saleId !== saleId || p.expiresAt <= now) {
      if (p && p.expiresAt <= now) this.pending.delete(id);
      return 'expired';
    }
    if (p.notBefore > now) return 'early';
    if (answer.trim().toLowerCase() === p.answer) return 'ok';
    p.attemptsLeft -= 1;
    if (p.attemptsLeft <= 0) this.pending.delete(id);
    return 'wrong';
  }

  spend(id: string): void {
    this.pending.delete(id);
  }

  /** verify(), and a right answer spends the captcha at once. */
  check(id: string, userId: number, saleId: number, answer: string, now = Date.now()): CaptchaCheck {
    const result = this.verify(id, userId, saleId, answer, now);
    if (result === 'ok') this.spend(id);
    return result;
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < 10_000) return;
    this.sweptAt = now;
    for (const [id, p] of this.pending) if (p.expiresAt <= now) this.pending.delete(id);
  }
}
