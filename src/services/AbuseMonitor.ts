// The automatic blacklist: counts the refusals that only a script collects in numbers (wrong captcha
// answers, purchase tries refused as too fast) and blacklists a shopper, or an address, that reaches a rule
// within its window, for a set time and with the reason. Called on those refusals only, never on a
// purchase that goes through.
import type { Logger } from 'pino';
import type { AbuseRules } from '../config/loadConfig';
import { FixedWindowCounter } from '../lib/FixedWindowCounter';
import type { BlacklistService } from './BlacklistService';

export type AbuseKind = 'captcha_wrong' | 'too_fast';

export class AbuseMonitor {
  // Counters for every rule, on or off, so that every monitor has one shape (buildPurchasePath).
  private readonly captchaWrong: FixedWindowCounter;
  private readonly tooFast: FixedWindowCounter;
  private readonly ipCaptchaWrong: FixedWindowCounter;
  private readonly ipTooFast: FixedWindowCounter;

  constructor(
    private readonly rules: AbuseRules,
    private readonly blacklist: Pick<BlacklistService, 'isBlocked' | 'blockAutomatically'>,
    private readonly log: Logger,
    now = Date.now(),
  ) {
    // A counter says no from the hit after its limit: the rule's count itself is that hit.
    this.captchaWrong = new FixedWindowCounter(Math.max(0, rules.captchaWrong - 1), rules.windowMs, now);
    this.tooFast = new FixedWindowCounter(Math.max(0, rules.tooFast - 1), rules.windowMs, now);
    this.ipCaptchaWrong = new FixedWindowCounter(Math.max(0, rules.ipCaptchaWrong - 1), rules.windowMs, now);
    this.ipTooFast = new FixedWindowCounter(Math.max(0, rules.ipTooFast - 1), rules.windowMs, now);
  }

  /** One refusal of `kind` for the shopper at `ip`; blacklists them (or the address) when a rule is reached. */
  record(kind: AbuseKind, userId: number, ip: string, now: number): void {
    const wrong = kind === 'captcha_wrong';
    const perShopper = wrong ? this.rules.captchaWrong : this.rules.tooFast;
    const perIp = wrong ? this.rules.ipCaptchaWrong : this.rules.ipTooFast;
    if (perShopper > 0 && !(wrong ? this.captchaWrong : this.tooFast).hit(String(userId), now)) {
      this.block(kind, perShopper, { userId, ip: null }, now);
    }
    if (perIp > 0 && !(wrong ? this.ipCaptchaWrong : this.ipTooFast).hit(ip, now)) {
      this.block(kind, perIp, { userId: null, ip }, now);
    }
  }

  private block(kind: AbuseKind, count: number, who: { userId: number | null; ip: string | null }, now: number): void {
    if (this.blacklist.isBlocked(who.userId ?? -1, who.ip ?? '', now)) return;
    const what = kind === 'captcha_wrong' ? 'wrong captcha answers' : 'purchase tries refused as too fast';
    const from = who.ip !== null ? ' from this address' : '';
    const reason = `Automatic: ${count} ${what}${from} within ${Math.round(this.rules.windowMs / 1000)} s`;
    this.blacklist.blockAutomatically({ ...who, reason, until: new Date(now + this.rules.blockMs) });
    this.log.warn({ ...who, rule: kind, count }, 'blacklisted automatically');
  }
}
