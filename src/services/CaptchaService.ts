// Captchas handed out from the ready pool and kept server-side under a random id, bound to the shopper and
// the sale: case-insensitive, single-use, short-lived, with a few attempts.
import { randomBytes } from 'node:crypto';
import { FixedWindowCounter } from '../lib/FixedWindowCounter';
import type { CaptchaPool } from './CaptchaPool';

/** New captchas a shopper may ask for a minute: plenty for "New picture", too few to drain the pool. */
const PER_SHOPPER_PER_MINUTE = 20;

interface Pending {
  userId: number;
  saleId: number;
  answer: string;
  /** The answer counts from this moment on (the no-picture check, a captcha sealed before the opening); 0 at once. */
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
  /** The one pending captcha of each shopper in each sale: a new one replaces it. */
  private readonly current = new Map<string, string>();
  private readonly perShopper = new FixedWindowCounter(PER_SHOPPER_PER_MINUTE, 60_000);
  /** A double from the start, like the timestamps it will hold. */
  private sweptAt = -Infinity;

  constructor(
    private readonly pool: CaptchaPool,
    /** How long the no-picture check makes its shopper wait: longer than a person takes to read a picture. */
    readonly waitMs = 8_000,
    readonly ttlMs = 120_000,
    private readonly attempts = 3,
  ) {}

  /**
   * A captcha for this shopper and sale (replacing the one it had), null when none is ready (the pool is
   * being topped up), or 'too_many' when the shopper asked for too many new ones this minute. `from`: the
   * moment its answer starts to count (the opening, for one handed out sealed before it).
   */
  issue(userId: number, saleId: number, now = Date.now(), from = now): IssuedCaptcha | null | 'too_many' {
    this.sweep(now);
    if (!this.perShopper.hit(String(userId), now)) return 'too_many';
    const ready = this.pool.take();
    if (!ready) return null;
    const expiresAt = Math.max(now, from) + this.ttlMs;
    const notBefore = from > now ? from : 0;
    const id = this.remember(userId, saleId, { userId, saleId, answer: ready.text.toLowerCase(), notBefore, expiresAt, attemptsLeft: this.attempts });
    return { id, image: ready.image, expiresAt };
  }

  /**
   * The alternative for people who cannot see the picture: no picture, an empty answer, but one that counts
   * only from `waitMs` on, so it is never faster than reading a picture and gives a script no edge.
   */
  issueTimed(userId: number, saleId: number, now = Date.now(), from = now): { id: string; answerAfter: number; expiresAt: number } | 'too_many' {
    this.sweep(now);
    if (!this.perShopper.hit(String(userId), now)) return 'too_many';
    const answerAfter = Math.max(now, from) + this.waitMs;
    const expiresAt = answerAfter + this.ttlMs;
    const id = this.remember(userId, saleId, { userId, saleId, answer: '', notBefore: answerAfter, expiresAt, attemptsLeft: this.attempts });
    return { id, answerAfter, expiresAt };
  }

  private remember(userId: number, saleId: number, p: Pending): string {
    const key = `${userId}:${saleId}`;
    const previous = this.current.get(key);
    if (previous !== undefined) this.pending.delete(previous);
    const id = randomBytes(12).toString('base64url');
    this.pending.set(id, p);
    this.current.set(key, id);
    return id;
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
    for (const [key, id] of this.current) if (!this.pending.has(id)) this.current.delete(key);
  }
}
