// The sale window is kept by the server, not by the page: a forced page (right path, a captcha and its
// answer or a valid ticket, button enabled by hand) gets nothing before the start and after the end.
import type { Page } from 'playwright-core';

// page.waitForFunction callbacks run in the browser; the project lib has no DOM types.
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
import {
  CAPTCHA_TEXT,
  createSale,
  createUser,
  loggedInContext,
  openCaptcha,
  openSale,
  recordRequests,
  Shopper,
  useShop,
} from './support/shop';

const e2e = useShop();

interface Answer {
  status: number;
  code?: string;
  ok?: boolean;
  path?: string;
  captchaId?: string;
  ticket?: string;
}

interface Forced {
  path: Answer;
  challenge: Answer;
  captcha: Answer;
  ticket: Answer;
  buyWithAnswer: Answer;
  buyWithTicket: Answer;
}

/**
 * Everything a script in the shopper's page could do by hand: ask for the path, for the challenge (path and
 * captcha), for a captcha alone, trade an answer for a ticket, and post to the path (here the real one,
 * computed by the test from the app it built, as if it had leaked) with a right captcha answer and with a
 * valid ticket. The captcha and the ticket the routes would refuse are minted by the test from the app's
 * own services, so the purchase is refused for the window and nothing else.
 */
async function forcePurchase(page: Page, saleId: number, user: Shopper): Promise<Forced> {
  const path = `/api/sales/${saleId}/buy/${e2e.shop.c.services.tickets.pathFor(saleId, user.id)}`;
  const minted = e2e.shop.c.services.captchas.issue(user.id, saleId);
  if (!minted || minted === 'too_many') throw new Error(`no captcha to mint: ${minted}`);
  const ticket = e2e.shop.c.services.tickets.issue(saleId, user.id);
  return (await page.evaluate(`(async () => {
    // The sale page is cached and shared, so it has no token; the page's JSON state hands one out.
    const csrf = (await (await fetch('/api/sales/${saleId}', { headers: { Accept: 'application/json' } })).json()).csrfToken;
    const headers = { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRF-Token': csrf };
    const call = async (method, url, body, extra) => {
      const res = await fetch(url, { method, headers: { ...headers, ...(extra || {}) }, body: body && JSON.stringify(body) });
      return { status: res.status, ...(await res.json()) };
    };
    const path = await call('GET', '/api/sales/${saleId}/path');
    const challenge = await call('POST', '/api/sales/${saleId}/challenge');
    const captcha = await call('POST', '/api/sales/${saleId}/captcha');
    const ticket = await call('POST', '/api/sales/${saleId}/ticket', { captchaId: captcha.captchaId || '${minted.id}', answer: '${CAPTCHA_TEXT}' });
    const buyWithAnswer = await call('POST', '${path}', null, { 'X-Captcha': '${minted.id}.${CAPTCHA_TEXT}' });
    const buyWithTicket = await call('POST', '${path}', null, { 'X-Purchase-Ticket': '${ticket}' });
    return { path, challenge, captcha, ticket, buyWithAnswer, buyWithTicket };
  })()`)) as Forced;
}

/** Every step of a forced purchase refused with this status and code. */
function expectAllRefused(forced: Forced, status: number, code: string): void {
  for (const [step, answer] of Object.entries(forced)) {
    expect({ step, status: answer.status, code: answer.code, ok: answer.ok }).toEqual({ step, status, code, ok: false });
    expect(answer.path).toBeUndefined();
    expect(answer.captchaId).toBeUndefined();
    expect(answer.ticket).toBeUndefined();
  }
}

it('when a forced page tries to buy before the start, then path, captcha, ticket and purchase are all refused with NOT_STARTED and no unit moves', async () => {
  const saleId = await createSale(e2e.shop.c, { startsInMs: 3600_000, stock: 2 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'fay');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  try {
    const page = await openSale(context, e2e.shop, saleId);
    expectAllRefused(await forcePurchase(page, saleId, shopper), 403, 'NOT_STARTED');

    // The button forced on by hand: the challenge is refused, and the page tells the shopper in words,
    // without a captcha. (In one go: the page's own 250 ms redraw would disable it again before a separate click.)
    const requests = recordRequests(page);
    await page.evaluate(`(() => { const b = document.getElementById('buy'); b.disabled = false; b.click(); })()`);
    await page.waitForFunction(() => document.getElementById('result').textContent.trim() !== '', null, { timeout: 8_000 });
    expect((await page.locator('#result').innerText()).trim()).toBe('The sale has not started yet. Wait for the countdown.');
    expect(await page.locator('#captcha-form').isHidden()).toBe(true);
    expect(requests.filter((r) => r.url.endsWith(`/api/sales/${saleId}/challenge`))).toHaveLength(1);
    expect(requests.filter((r) => r.url.includes('/buy/'))).toHaveLength(0);

    expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(2);
    expect(e2e.shop.c.services.orders.pendingForUser(shopper.id)).toHaveLength(0);
  } finally {
    await context.close();
  }
});

it('when a forced page tries to buy after the end, then path, captcha, ticket and purchase are all refused with SALE_ENDED and no unit moves', async () => {
  const saleId = await createSale(e2e.shop.c, { startsInMs: -7200_000, durationMs: 3600_000, stock: 2 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'gus');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  try {
    const page = await openSale(context, e2e.shop, saleId);
    expect((await page.locator('#phase').textContent())?.trim()).toBe('Ended');
    expectAllRefused(await forcePurchase(page, saleId, shopper), 410, 'SALE_ENDED');

    // Buy is disabled; even forced on by hand, the challenge is refused and no captcha opens.
    expect(await page.locator('#buy').isDisabled()).toBe(true);
    await page.evaluate(`(() => { const b = document.getElementById('buy'); b.disabled = false; b.click(); })()`);
    await page.waitForFunction(() => document.getElementById('result').textContent.trim() !== '', null, { timeout: 8_000 });
    expect((await page.locator('#result').innerText()).trim()).toBe('The sale has ended. No more orders are taken.');
    expect(await page.locator('#captcha-form').isHidden()).toBe(true);
    expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(2);
  } finally {
    await context.close();
  }
});

it('when a sale ends while the page is open with its path in hand, then the page turns to "ended" and a late purchase is refused', async () => {
  const saleId = await createSale(e2e.shop.c, { startsInMs: -1_000, durationMs: 5_000, stock: 2 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'hal');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  try {
    const page = await openSale(context, e2e.shop, saleId);
    expect((await page.locator('#phase').textContent())?.trim()).toBe('Live now');
    await openCaptcha(page); // the shopper hesitates past the end with the captcha open

    await page.locator('#sale[data-phase="ended"]').waitFor({ timeout: 8_000 });
    expect(await page.locator('#buy').isDisabled()).toBe(true);
    expect((await page.locator('#buy').innerText()).trim()).toBe('Sale ended');
    expect(await page.locator('#captcha-form').isHidden()).toBe(true);

    expectAllRefused(await forcePurchase(page, saleId, shopper), 410, 'SALE_ENDED');
    expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(2);
  } finally {
    await context.close();
  }
});
