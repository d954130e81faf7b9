// Captchas handed out from the ready pool and kept server-side under a random id, bound to the shopper and
// the sale: case-insensitive, single-use, short-lived, with a few attempts.
import { randomBytes } from 'node:crypto';
import type { CaptchaPool } from './CaptchaPool';

interface Pending {
  userId: number;
  saleId: number;
  answer: string;
  expiresAt: number;
  attemptsLeft: number;
}

export type CaptchaCheck = 'ok' | 'wrong' | 'expired';

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
    this.pending.set(id, { userId, saleId, answer: ready.text.toLowerCase(), expiresAt, attemptsLeft: this.attempts });
    return { id, image: ready.image, expiresAt };
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
