// Captchas kept server-side under a random id, bound to the shopper and the sale: case-insensitive, single-use,
// short-lived, with a few attempts. The image generator is injected so tests can know the answer.
import { randomBytes } from 'node:crypto';
import svgCaptcha from 'svg-captcha';

export interface CaptchaGenerator {
  create(): { text: string; svg: string };
}

export const svgCaptchaGenerator: CaptchaGenerator = {
  create: () => {
    const c = svgCaptcha.create({ size: 5, noise: 2, color: true, ignoreChars: '0oO1ilI', background: '#f4f1ea' });
    return { text: c.text, svg: c.data };
  },
};

interface Pending {
  userId: number;
  saleId: number;
  answer: string;
  expiresAt: number;
  attemptsLeft: number;
}

export type CaptchaCheck = 'ok' | 'wrong' | 'expired';

export class CaptchaService {
  private readonly pending = new Map<string, Pending>();
  private sweptAt = 0;

  constructor(
    private readonly generator: CaptchaGenerator = svgCaptchaGenerator,
    private readonly ttlMs = 120_000,
    private readonly attempts = 3,
  ) {}

  create(userId: number, saleId: number, now = Date.now()): { id: string; svg: string } {
    this.sweep(now);
    const { text, svg } = this.generator.create();
    const id = randomBytes(12).toString('base64url');
    this.pending.set(id, { userId, saleId, answer: text.toLowerCase(), expiresAt: now + this.ttlMs, attemptsLeft: this.attempts });
    return { id, svg };
  }

  /** A right answer spends the captcha; a wrong one spends an attempt. Unknown, foreign or spent: 'expired'. */
  check(id: string, userId: number, saleId: number, answer: string, now = Date.now()): CaptchaCheck {
    const p = this.pending.get(id);
    if (!p || p.userId !== userId || p.saleId !== saleId || p.expiresAt <= now) {
      if (p && p.expiresAt <= now) this.pending.delete(id);
      return 'expired';
    }
    if (answer.trim().toLowerCase() === p.answer) {
      this.pending.delete(id);
      return 'ok';
    }
    p.attemptsLeft -= 1;
    if (p.attemptsLeft <= 0) this.pending.delete(id);
    return 'wrong';
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < 10_000) return;
    this.sweptAt = now;
    for (const [id, p] of this.pending) if (p.expiresAt <= now) this.pending.delete(id);
  }
}
