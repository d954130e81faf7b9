// Every answer the purchase can get is shown to the shopper in words: from the real server where a
// scenario can produce it, and for each refusal code by answering the purchase request (or the challenge
// that comes before it: path and captcha) in the browser.
import type { BrowserContext, Page } from 'playwright-core';
import { PublishRefusedError } from '../../src/queue/OrderQueue';
import { REFUSALS } from '../../src/errors';
import {
  buyThroughPage,
  CAPTCHA_TEXT,
  clickBuy,
  confirmCaptcha,
  createSale,
  createUser,
  knownCaptcha,
  loggedInContext,
  openCaptcha,
  openSale,
  recordRequests,
  useShop,
} from './support/shop';

const e2e = useShop({ env: { USER_INTERVAL_MS: '10000' }, captcha: knownCaptcha() });

/** Refusals of the login and registration forms, which show them next to the form (accounts.test.ts). */
const FORM_ONLY = ['BAD_CREDENTIALS', 'TOO_MANY_LOGINS', 'TOO_MANY_LOGINS_ACCOUNT', 'LOGIN_CHALLENGE', 'CHALLENGE_REQUIRED', 'CHALLENGE_INVALID'] as const;
type PurchaseCode = Exclude<keyof typeof REFUSALS, (typeof FORM_ONLY)[number]>;
const isPurchaseCode = (code: keyof typeof REFUSALS): code is PurchaseCode => !(FORM_ONLY as readonly string[]).includes(code);

/** What a person reads for each outcome the brief names, and for the rest of the funnel's codes. */
const WORDS: Record<PurchaseCode, RegExp> = {
  SOLD_OUT: /^Sold out\./,
  NOT_STARTED: /^The sale has not started yet\./,
  SALE_ENDED: /^The sale has ended\./,
  ALREADY_BOUGHT: /^You have already bought in this sale\./,
  TOO_FAST: /^Too fast: one try every 10 seconds/,
  BLOCKED: /^Your account or network is blocked from this sale\./,
  BUSY: /^The shop is very busy right now\./,
  OVERLOADED: /^The shop is very busy right now\./,
  STARTING: /^The shop is starting up\./,
  STOPPING: /^The shop is restarting\./,
  IP_RATE_LIMITED: /^Too many requests from your network\./,
  CROSS_SITE: /^This page did not come from the shop\./,
  CAPTCHA_BUSY: /^Pictures are being drawn for the crowd\./,
  CAPTCHA_RATE_LIMITED: /^Too many new pictures\./,
  CAPTCHA_EARLY: /^The check without a picture is not over yet/,
  CAPTCHA_WRONG: /^Those characters do not match the picture/,
  CAPTCHA_EXPIRED: /^That picture expired\./,
  IN_FLIGHT: /^Your previous try is still being handled\./,
  NOT_LOGGED_IN: /^Please log in to buy\./,
  SALE_NOT_FOUND: /^There is no such sale\./,
  PATH_INVALID: /^The purchase link was not valid\./,
  TICKET_INVALID: /^Please type the characters from a new picture\./,
  TICKET_USED: /^Please type the characters from a new picture\./,
  TICKET_EXPIRED: /^That code expired\./,
  RESTOCKING: /^This server is fetching more stock\. Your try did not count/,
  QUEUE_UNAVAILABLE: /^We could not take your order just now\. Nothing was charged/,
  ALREADY_ENTERED: /^You are already in the draw: one entry per shopper\./,
  DRAW_RUNNING: /^The draw is running\./,
  ENTRY_UNAVAILABLE: /^We could not record your entry just now\./,
};

describe('when the purchase request gets each refusal code', () => {
  let saleId: number;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    saleId = await createSale(e2e.shop.c, { stock: 5 });
  });

  // A shopper per code: one shopper asking for a captcha per code would reach the captcha hand-out's limit.
  beforeEach(async () => {
    context = await loggedInContext(e2e.browser, e2e.shop, await createUser(e2e.shop.c, 'shopper', 'ivy'));
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
  });

  // The captcha's own answers do not lock the button (a typo costs no try): the purchase tests cover them.
  it.each((Object.keys(REFUSALS) as (keyof typeof REFUSALS)[]).filter(isPurchaseCode).filter((code) => !code.startsWith('CAPTCHA_')))('%s, then the page says it in words', async (code) => {
    const r = REFUSALS[code];
    await page.route('**/api/sales/*/buy/*', (route) =>
      route.fulfill({
        status: r.status,
        contentType: 'application/json',
        headers: r.retryAfterSeconds ? { 'Retry-After': String(r.retryAfterSeconds) } : {},
        body: JSON.stringify({ ok: false, code: r.code, message: r.message }),
      }),
    );
    try {
      await page.goto(`${e2e.shop.base}/sales/${saleId}`); // a fresh page: no lock left from the last code
      await page.locator('#sale[data-ready]').waitFor();
      const said = await buyThroughPage(page);
      expect(said).toMatch(WORDS[code]);
      expect(said).not.toMatch(/something went wrong/i);
      // Each attempt locks the button: for the full 10 s when the shop counted the try, for a short pause
      // (or the Retry-After asked) when a gate before the count refused it.
      expect(await page.locator('#buy').isDisabled()).toBe(true);
      const free = ['BUSY', 'OVERLOADED', 'STARTING', 'STOPPING', 'RESTOCKING', 'IP_RATE_LIMITED', 'CROSS_SITE', 'NOT_LOGGED_IN'].includes(code);
      const expected = Math.max(free ? 2 : 10, r.retryAfterSeconds ?? 0);
      const lockText = (await page.locator('#lock').innerText()).trim();
      if (lockText) {
        const left = Number(/in (\d+) s/.exec(lockText)?.[1]);
        expect(left).toBeLessThanOrEqual(expected);
        expect(left).toBeGreaterThanOrEqual(expected - 1);
      } else expect(['SOLD_OUT', 'SALE_ENDED', 'ALREADY_BOUGHT', 'SALE_NOT_FOUND']).toContain(code);
    } finally {
      await page.unroute('**/api/sales/*/buy/*');
    }
  });
});

/**
 * The codes the challenge (path and captcha) can answer with: the gates before the purchase's own. The
 * page retries CAPTCHA_BUSY by itself for a while (its own test below), so it is not among them.
 */
const CHALLENGE_CODES = [
  'OVERLOADED', 'BUSY', 'IP_RATE_LIMITED', 'CROSS_SITE', 'SOLD_OUT', 'NOT_LOGGED_IN', 'STARTING', 'STOPPING',
  'NOT_STARTED', 'SALE_ENDED', 'SALE_NOT_FOUND', 'BLOCKED', 'ALREADY_BOUGHT',
] as const satisfies readonly (keyof typeof REFUSALS)[];

describe('when the challenge (path and captcha) gets each refusal code', () => {
  let saleId: number;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // Started a minute ago: past the few seconds in which the page retries a NOT_STARTED.
    saleId = await createSale(e2e.shop.c, { stock: 5, startsInMs: -60_000 });
    context = await loggedInContext(e2e.browser, e2e.shop, await createUser(e2e.shop.c, 'shopper', 'ida'));
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
  });

  it.each(CHALLENGE_CODES)('%s, then the page says it in words and opens no captcha', async (code) => {
    const r = REFUSALS[code];
    await page.route('**/api/sales/*/challenge', (route) =>
      route.fulfill({
        status: r.status,
        contentType: 'application/json',
        headers: r.retryAfterSeconds ? { 'Retry-After': String(r.retryAfterSeconds) } : {},
        body: JSON.stringify({ ok: false, code: r.code, message: r.message }),
      }),
    );
    try {
      await page.goto(`${e2e.shop.base}/sales/${saleId}`);
      await page.locator('#sale[data-ready]').waitFor();
      const requests = recordRequests(page);
      const said = await clickBuy(page);
      expect(said).toMatch(WORDS[code]);
      expect(said).not.toMatch(/something went wrong|could not load a picture/i);
      expect(await page.locator('#captcha-form').isHidden()).toBe(true);
      expect(await page.locator('#captcha-image img').count()).toBe(0);
      expect(requests.filter((q) => q.url.endsWith(`/api/sales/${saleId}/challenge`))).toHaveLength(1);
      // Without a path, nothing is bought.
      expect(requests.filter((q) => q.url.includes('/buy/'))).toHaveLength(0);
    } finally {
      await page.unroute('**/api/sales/*/challenge');
    }
  });
});

it('when the captcha pool is dry for a moment, then the page asks again by itself and the captcha opens', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const context = await loggedInContext(e2e.browser, e2e.shop, await createUser(e2e.shop.c, 'shopper', 'joe'));
  try {
    const page = await openSale(context, e2e.shop, saleId);
    let refused = 0;
    await page.route('**/api/sales/*/challenge', (route) => {
      if (refused >= 2) return route.continue();
      refused += 1;
      const r = REFUSALS.CAPTCHA_BUSY;
      return route.fulfill({ status: r.status, contentType: 'application/json', body: JSON.stringify({ ok: false, code: r.code, message: r.message }) });
    });
    await openCaptcha(page);
    expect(refused).toBe(2);
    expect(await confirmCaptcha(page, CAPTCHA_TEXT)).toMatch(/^Order (accepted|confirmed)/);
  } finally {
    await context.close();
  }
});

it('when a shopper reloads to dodge the 10-second lock, then the server still says "too fast"', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'jay');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  const queue = e2e.shop.c.queue;
  const publish = queue.publish;
  queue.publish = async () => {
    throw new PublishRefusedError('broker said no');
  };
  try {
    const page = await openSale(context, e2e.shop, saleId);
    expect(await buyThroughPage(page)).toMatch(WORDS.QUEUE_UNAVAILABLE);
    queue.publish = publish;
    await page.reload();
    await page.locator('#sale[data-ready]').waitFor();
    expect(await buyThroughPage(page)).toMatch(WORDS.TOO_FAST);
    expect(e2e.shop.c.services.book.inventory.hasBought(saleId, shopper.id)).toBe(false);
  } finally {
    queue.publish = publish;
    await context.close();
  }
});

it('when the shopper is blocked, then the server refuses the captcha and the purchase, and the page says so without a captcha', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'kim');
  await e2e.shop.c.services.blacklist.add({ userId: shopper.id, ip: null, reason: 'e2e', until: null });
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  try {
    const page = await openSale(context, e2e.shop, saleId);
    const [challenge, said] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/sales/${saleId}/challenge`)),
      clickBuy(page),
    ]);
    expect(challenge.status()).toBe(403);
    expect(await challenge.json()).toMatchObject({ ok: false, code: 'BLOCKED' });
    expect(said).toMatch(WORDS.BLOCKED);
    expect(await page.locator('#captcha-form').isHidden()).toBe(true);
    expect(await page.locator('#captcha-image img').count()).toBe(0);

    // Nor does the purchase itself go through for a page that knows the path (as if it had leaked).
    const path = `/api/sales/${saleId}/buy/${e2e.shop.c.services.tickets.pathFor(saleId, shopper.id)}`;
    const forced = (await page.evaluate(`(async () => {
      const csrf = (await (await fetch('/api/sales/${saleId}', { headers: { Accept: 'application/json' } })).json()).csrfToken;
      const res = await fetch('${path}', { method: 'POST', headers: { Accept: 'application/json', 'X-CSRF-Token': csrf, 'X-Captcha': 'none.${CAPTCHA_TEXT}' } });
      return { status: res.status, ...(await res.json()) };
    })()`)) as { status: number; code?: string };
    expect(forced).toMatchObject({ status: 403, code: 'BLOCKED' });
    expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(5);
    expect(e2e.shop.c.services.book.inventory.hasBought(saleId, shopper.id)).toBe(false);
  } finally {
    await context.close();
  }
});

it('when the captcha answer is wrong three times, then each try says so and a new picture comes', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const context = await loggedInContext(e2e.browser, e2e.shop, await createUser(e2e.shop.c, 'shopper', 'lou'));
  try {
    const page = await openSale(context, e2e.shop, saleId);
    await openCaptcha(page);
    for (let i = 0; i < 3; i++) {
      expect(await confirmCaptcha(page, `x${i}`)).toBe('Those characters do not match the picture (case does not matter). Here is a new one.');
      // A wrong answer costs no try: the button is not locked.
      expect((await page.locator('#lock').innerText()).trim()).toBe('');
    }
    // And so, with the shop pacing each shopper to one try per 10 s, the right answer goes through at once.
    expect(await confirmCaptcha(page, CAPTCHA_TEXT)).toMatch(/^Order (accepted|confirmed)/);
  } finally {
    await context.close();
  }
});
