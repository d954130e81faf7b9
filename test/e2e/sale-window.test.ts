// The sale window is kept by the server, not by the page: a forced page (right path, valid ticket,
// button enabled by hand) is refused before the start and after the end.
import type { Page } from 'playwright-core';
import {
  CAPTCHA_TEXT,
  confirmCaptcha,
  createSale,
  createUser,
  loggedInContext,
  openCaptcha,
  openSale,
  Shopper,
  useShop,
} from './support/shop';

jest.setTimeout(60_000);

const e2e = useShop();

interface Answer {
  status: number;
  code?: string;
  ok?: boolean;
}

/**
 * Everything a script in the shopper's page could do by hand: ask for the path, get a captcha, trade
 * the answer for a ticket, and post to the path (here the real one, computed by the test from the app
 * it built, as if it had leaked).
 */
async function forcePurchase(page: Page, saleId: number, path: string): Promise<{ path: Answer; ticket: Answer; buy: Answer }> {
  return (await page.evaluate(`(async () => {
    // The sale page is cached and shared, so it has no token; the page's JSON state hands one out.
    const csrf = (await (await fetch('/api/sales/${saleId}', { headers: { Accept: 'application/json' } })).json()).csrfToken;
    const headers = { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRF-Token': csrf };
    const call = async (method, url, body, extra) => {
      const res = await fetch(url, { method, headers: { ...headers, ...(extra || {}) }, body: body && JSON.stringify(body) });
      return { status: res.status, ...(await res.json()) };
    };
    const path = await call('GET', '/api/sales/${saleId}/path');
    const captcha = await call('POST', '/api/sales/${saleId}/captcha');
    const ticket = await call('POST', '/api/sales/${saleId}/ticket', { captchaId: captcha.captchaId, answer: '${CAPTCHA_TEXT}' });
    const buy = await call('POST', '${path}', null, { 'X-Purchase-Ticket': ticket.ticket || 'none' });
    return { path, ticket, buy };
  })()`)) as { path: Answer; ticket: Answer; buy: Answer };
}

function secretPath(saleId: number, user: Shopper): string {
  return `/api/sales/${saleId}/buy/${e2e.shop.c.services.tickets.pathFor(saleId, user.id)}`;
}

it('when a forced page tries to buy before the start, then the server refuses with NOT_STARTED and no unit moves', async () => {
  const saleId = await createSale(e2e.shop.c, { startsInMs: 3600_000, stock: 2 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'fay');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  try {
    const page = await openSale(context, e2e.shop, saleId);
    const forced = await forcePurchase(page, saleId, secretPath(saleId, shopper));
    expect(forced.path).toMatchObject({ status: 403, code: 'NOT_STARTED' });
    expect(forced.ticket).toMatchObject({ status: 200, ok: true }); // a ticket alone buys nothing
    expect(forced.buy).toMatchObject({ status: 403, code: 'NOT_STARTED' });

    // The button forced on by hand: the page then tells the shopper, in words, what the server said.
    // (In one go: the page's own 250 ms redraw would disable it again before a separate click.)
    await page.evaluate(`(() => { const b = document.getElementById('buy'); b.disabled = false; b.click(); })()`);
    await page.locator('#captcha-form').waitFor({ state: 'visible' });
    expect(await confirmCaptcha(page, CAPTCHA_TEXT)).toBe('The sale has not started yet. Wait for the countdown.');

    expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(2);
    expect(e2e.shop.c.services.orders.pendingForUser(shopper.id)).toHaveLength(0);
  } finally {
    await context.close();
  }
});

it('when a forced page tries to buy after the end, then the server refuses with SALE_ENDED and no unit moves', async () => {
  const saleId = await createSale(e2e.shop.c, { startsInMs: -7200_000, durationMs: 3600_000, stock: 2 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'gus');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  try {
    const page = await openSale(context, e2e.shop, saleId);
    expect((await page.locator('#phase').textContent())?.trim()).toBe('Ended');
    const forced = await forcePurchase(page, saleId, secretPath(saleId, shopper));
    expect(forced.path).toMatchObject({ status: 410, code: 'SALE_ENDED' });
    expect(forced.buy).toMatchObject({ status: 410, code: 'SALE_ENDED' });
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

    const forced = await forcePurchase(page, saleId, secretPath(saleId, shopper));
    expect(forced.buy).toMatchObject({ status: 410, code: 'SALE_ENDED' });
    expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(2);
  } finally {
    await context.close();
  }
});
