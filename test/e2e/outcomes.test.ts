// Every answer the purchase can get is shown to the shopper in words: from the real server where a
// scenario can produce it, and for each refusal code by answering the purchase request in the browser.
import type { BrowserContext, Page } from 'playwright-core';
import { PublishRefusedError } from '../../src/queue/OrderQueue';
import { REFUSALS } from '../../src/errors';
import {
  buyThroughPage,
  CAPTCHA_TEXT,
  confirmCaptcha,
  createSale,
  createUser,
  knownCaptcha,
  loggedInContext,
  openCaptcha,
  openSale,
  useShop,
} from './support/shop';

jest.setTimeout(90_000);

const e2e = useShop({ env: { USER_INTERVAL_MS: '10000' }, captcha: knownCaptcha() });

/** What a person reads for each outcome the brief names, and for the rest of the funnel's codes. */
const WORDS: Record<keyof typeof REFUSALS, RegExp> = {
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
  QUEUE_UNAVAILABLE: /^We could not take your order just now\. Nothing was charged/,
};

describe('when the purchase request gets each refusal code', () => {
  let saleId: number;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    saleId = await createSale(e2e.shop.c, { stock: 5 });
    context = await loggedInContext(e2e.browser, e2e.shop, await createUser(e2e.shop.c, 'shopper', 'ivy'));
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
  });

  // The captcha's own answers do not lock the button (a typo costs no try): the purchase tests cover them.
  it.each((Object.keys(REFUSALS) as (keyof typeof REFUSALS)[]).filter((code) => !code.startsWith('CAPTCHA_')))('%s, then the page says it in words', async (code) => {
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
      // Each attempt locks the button, whatever the answer.
      expect(await page.locator('#buy').isDisabled()).toBe(true);
    } finally {
      await page.unroute('**/api/sales/*/buy/*');
    }
  });
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

it('when the shopper is blocked, then the server refuses and the page says so', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'kim');
  await e2e.shop.c.services.blacklist.add({ userId: shopper.id, ip: null, reason: 'e2e', until: null });
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  try {
    const page = await openSale(context, e2e.shop, saleId);
    expect(await buyThroughPage(page)).toMatch(WORDS.BLOCKED);
    expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(5);
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
      expect(await confirmCaptcha(page, `x${i}`)).toBe('Those characters do not match the picture. Here is a new one.');
    }
    expect(await confirmCaptcha(page, CAPTCHA_TEXT)).toMatch(/^Order (accepted|confirmed)/);
  } finally {
    await context.close();
  }
});
