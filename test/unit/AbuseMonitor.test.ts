import pino from 'pino';
import type { AbuseRules } from '../../src/config/loadConfig';
import type { BlacklistInput } from '../../src/repositories/BlacklistRepository';
import { AbuseMonitor } from '../../src/services/AbuseMonitor';

const log = pino({ level: 'silent' });
const START = Date.UTC(2030, 0, 1);
const RULES: AbuseRules = { windowMs: 60_000, blockMs: 3600_000, captchaWrong: 3, tooFast: 5, ipCaptchaWrong: 0, ipTooFast: 0 };

/** A blacklist that records what it is asked to block, and blocks it. */
function fakeBlacklist() {
  const entries: BlacklistInput[] = [];
  return {
    entries,
    isBlocked: (userId: number, ip: string, now: number) =>
      entries.some((e) => (e.userId === userId || e.ip === ip) && (e.until === null || e.until.getTime() > now)),
    blockAutomatically: (input: BlacklistInput) => void entries.push(input),
  };
}

describe('AbuseMonitor', () => {
  it('when a shopper reaches the wrong-answer rule within the window, then they are blocked once, for the set time, with the reason', () => {
    const blacklist = fakeBlacklist();
    const monitor = new AbuseMonitor(RULES, blacklist, log, START);

    monitor.record('captcha_wrong', 7, '10.0.0.1', START);
    monitor.record('captcha_wrong', 7, '10.0.0.1', START + 1000);
    expect(blacklist.entries).toEqual([]);
    monitor.record('captcha_wrong', 7, '10.0.0.1', START + 2000);
    monitor.record('captcha_wrong', 7, '10.0.0.1', START + 3000);

    expect(blacklist.entries).toEqual([
      { userId: 7, ip: null, reason: 'Automatic: 3 wrong captcha answers within 60 s', until: new Date(START + 2000 + 3600_000) },
    ]);
  });

  it('when the refusals are spread over windows, or belong to different shoppers, then nobody is blocked', () => {
    const blacklist = fakeBlacklist();
    const monitor = new AbuseMonitor(RULES, blacklist, log, START);

    for (let i = 0; i < 4; i++) monitor.record('too_fast', 7, '10.0.0.1', START + i * 1000);
    for (let i = 0; i < 4; i++) monitor.record('too_fast', 7, '10.0.0.1', START + 60_000 + i * 1000);
    for (let u = 0; u < 10; u++) monitor.record('captcha_wrong', 100 + u, '10.0.0.1', START);

    expect(blacklist.entries).toEqual([]);
  });

  it('when an address rule is on, then the address is blocked for its shoppers\' refusals together; a rule at 0 is off', () => {
    const blacklist = fakeBlacklist();
    const monitor = new AbuseMonitor({ ...RULES, captchaWrong: 0, ipCaptchaWrong: 4 }, blacklist, log, START);

    for (let u = 0; u < 4; u++) monitor.record('captcha_wrong', 100 + u, '203.0.113.5', START);

    expect(blacklist.entries).toEqual([
      { userId: null, ip: '203.0.113.5', reason: 'Automatic: 4 wrong captcha answers from this address within 60 s', until: new Date(START + 3600_000) },
    ]);
  });
});
