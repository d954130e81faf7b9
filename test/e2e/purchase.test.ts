// Buying in a real browser: captcha, the 10-second lock, pending then confirmed, one per shopper, sold out.
import type { Page } from 'playwright-core';

// page.waitForFunction callbacks run in the browser; the project lib has no DOM types.
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
import { PublishRefusedError } from '../../src/queue/OrderQueue';
import {
  buyThroughPage,
  CAPTCHA_TEXT,
  confirmCaptcha,
  createSale,
  createUser,
  eventually,
  knownCaptcha,
  loggedInContext,
  openCaptcha,
  openSale,
  recordRequests,
  screenshot,
  useShop,
  WAIT_MS,
} from './support/shop';

// Real pacing: one purchase attempt per shopper per 10 s, as in production.
const e2e = useShop({ env: { USER_INTERVAL_MS: '10000' }, captcha: knownCaptcha() });

/** Accepted, and possibly already confirmed by the time the page is read. */
const ACCEPTED = /^Order (accepted\. We are confirming it now \(pending\)…|confirmed! It is yours\.)/;

async function resultText(page: Page): Promise<string> {
  return (await page.locator('#result').innerText()).trim();
}

async function ordersOf(userId: number, saleId: number) {
  return (await e2e.shop.c.services.orders.listForUser(userId)).filter((o) => o.saleId === saleId);
}

it('when the captcha is wrong, then the error is shown with a new picture and no order; when right, the order is accepted and goes from pending to confirmed in My orders', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'ana');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper, 'narrow');
  // Hold the order writer, so "pending" can be seen before it becomes "confirmed".
  await e2e.shop.c.writer.pause();
  try {
    const page = await openSale(context, e2e.shop, saleId);
    const requests = recordRequests(page);
    await openCaptcha(page);
    const firstPicture = await page.locator('#captcha-image').innerHTML();

    // The label tells the shopper that case does not matter; the picture is a PNG with a text alternative.
    expect(await page.locator('label[for="captcha-answer"]').innerText()).toContain('small or capital letters, either is fine');
    expect(await page.locator('#captcha-image img').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(await page.locator('#captcha-image img').getAttribute('alt')).toMatch(/Case does not matter/);

    // The answer travels with the purchase itself, and a wrong one is refused before the shopper's pacing.
    const buyPrefix = `/api/sales/${saleId}/buy/`;
    const [wrongAnswer, wrong] = await Promise.all([
      page.waitForResponse((r) => r.url().includes(buyPrefix)),
      confirmCaptcha(page, 'nope9'),
    ]);
    expect(wrong).toBe('Those characters do not match the picture (case does not matter). Here is a new one.');
    expect(wrongAnswer.status()).toBe(400);
    expect(await wrongAnswer.json()).toMatchObject({ ok: false, code: 'CAPTCHA_WRONG' });
    expect(wrongAnswer.request().headers()['x-captcha']).toMatch(/^[\w-]+\.nope9$/);
    expect(await page.locator('#captcha-image').innerHTML()).not.toBe(firstPicture);
    expect(await page.locator('#captcha-answer').inputValue()).toBe('');
    expect(await page.locator('#captcha-answer').getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate('document.activeElement.id')).toBe('captcha-answer');
    expect(await resultText(page)).toBe('');
    // A typo costs no try: no lock, and the new picture came from a second challenge.
    expect((await page.locator('#lock').innerText()).trim()).toBe('');
    expect(await page.locator('#buy').isEnabled()).toBe(true);
    expect(requests.filter((r) => r.method === 'POST' && r.url.endsWith(`/api/sales/${saleId}/challenge`))).toHaveLength(2);
    expect(requests.filter((r) => r.url.includes(buyPrefix))).toHaveLength(1);
    expect(e2e.shop.c.services.book.inventory.hasBought(saleId, shopper.id)).toBe(false);
    expect(e2e.shop.c.services.orders.pendingForUser(shopper.id)).toHaveLength(0);
    await screenshot(page, 'purchase-wrong-captcha', 'narrow');

    // Right at once, in small letters: accepted although the shop paces each shopper to one try per 10 s,
    // so the wrong answer did not count as a try.
    const accepted = await confirmCaptcha(page, CAPTCHA_TEXT.toLowerCase());
    expect(accepted).toBe('Order accepted. We are confirming it now (pending)…');
    expect(requests.filter((r) => r.url.includes(buyPrefix))).toHaveLength(2);
    expect(await page.locator('#captcha-form').isHidden()).toBe(true);
    expect((await page.locator('#buy').innerText()).trim()).toBe('Bought ✓');

    const orders = await context.newPage();
    await orders.goto(`${e2e.shop.base}/orders`);
    const row = orders.locator('tr.order');
    expect(await row.count()).toBe(1);
    expect((await row.locator('[data-status-text]').innerText()).trim()).toBe('Pending');
    await screenshot(orders, 'orders-pending', 'narrow');

    // The writer resumes: both pages turn to "confirmed" by themselves, without a reload.
    await e2e.shop.c.writer.start();
    await orders.locator('tr.order[data-status="confirmed"]').waitFor();
    expect((await row.locator('[data-status-text]').innerText()).trim()).toBe('Confirmed');
    await page.waitForFunction(() => document.getElementById('result').textContent.includes('Order confirmed'), null, { timeout: WAIT_MS });
    expect(await resultText(page)).toContain('Order confirmed! It is yours.');
    await screenshot(orders, 'orders-confirmed', 'narrow');

    expect(await ordersOf(shopper.id, saleId)).toHaveLength(1);
    await orders.reload();
    expect((await orders.locator('tr.order [data-status-text]').innerText()).trim()).toBe('Confirmed');
  } finally {
    await e2e.shop.c.writer.start();
    await context.close();
  }
});

it('after a purchase attempt, then the button stays locked for 10 s with a visible countdown, and the retry goes through', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'ben');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper, 'wide');
  // The broker refuses the first order, so the shopper may (and will) try again.
  const queue = e2e.shop.c.queue;
  const publish = queue.publish;
  let refused = 0;
  queue.publish = async (m) => {
    if (refused++ === 0) throw new PublishRefusedError('broker said no');
    return publish.call(queue, m);
  };
  try {
    const page = await openSale(context, e2e.shop, saleId);
    const said = await buyThroughPage(page);
    const attemptedAt = Date.now();
    expect(said).toBe('We could not take your order just now. Nothing was charged; please try again.');
    expect(await page.locator('#buy').isDisabled()).toBe(true);
    const lockText = async () => (await page.locator('#lock').innerText()).trim();
    expect(await lockText()).toMatch(/^Locked: you can try again in (10|9) s$/);
    await screenshot(page, 'purchase-locked', 'wide');

    // The countdown visibly runs while the button stays locked.
    const seen = new Set<string>();
    while (Date.now() - attemptedAt < 8_500) {
      expect(await page.locator('#buy').isDisabled()).toBe(true);
      seen.add(await lockText());
      await page.waitForTimeout(400);
    }
    expect(seen.size).toBeGreaterThanOrEqual(7);
    expect([...seen].every((t) => /^Locked: you can try again in \d+ s$/.test(t))).toBe(true);

    await page.locator('#buy:enabled').waitFor({ timeout: 4_000 });
    const unlockedAfter = Date.now() - attemptedAt;
    expect(unlockedAfter).toBeGreaterThanOrEqual(9_000);
    expect(unlockedAfter).toBeLessThan(12_000);
    expect(await lockText()).toBe('');

    // The server paces shoppers by the same 10 s, so the try after the lock is accepted.
    expect(await buyThroughPage(page)).toMatch(ACCEPTED);
    await eventually(async () => (await ordersOf(shopper.id, saleId)).length === 1, WAIT_MS, 'the order row');
  } finally {
    queue.publish = publish;
    await context.close();
  }
});

it('when the same shopper tries to buy a second time, then the shop refuses it as already bought', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'cleo');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper, 'wide');
  try {
    // Two tabs: the second one has its captcha open before the first one buys.
    const first = await openSale(context, e2e.shop, saleId);
    const second = await openSale(context, e2e.shop, saleId);
    await openCaptcha(second);
    await screenshot(second, 'captcha-open', 'wide', { docs: 'captcha.png' });
    expect(await buyThroughPage(first)).toMatch(ACCEPTED);

    expect(await confirmCaptcha(second, CAPTCHA_TEXT)).toBe('You have already bought in this sale. One per shopper.');
    expect((await second.locator('#phase').textContent())?.trim()).toBe('Yours');
    expect((await second.locator('#buy').innerText()).trim()).toBe('Bought ✓');
    expect(await second.locator('#buy').isDisabled()).toBe(true);

    // A fresh page knows it too.
    const third = await openSale(context, e2e.shop, saleId);
    await third.locator('#sale[data-phase="bought"]').waitFor();
    expect(await third.locator('#buy').isDisabled()).toBe(true);

    await eventually(async () => (await ordersOf(shopper.id, saleId)).length === 1, WAIT_MS, 'the first order row');
    expect(await ordersOf(shopper.id, saleId)).toHaveLength(1);
    expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(4);
  } finally {
    await context.close();
  }
});

it('when the stock is gone, then another shopper sees "sold out", whether mid-purchase, watching, or arriving', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 1 });
  const [winner, late, watcher, newcomer] = await Promise.all(
    ['win', 'late', 'watch', 'new'].map((p) => createUser(e2e.shop.c, 'shopper', p)),
  );
  const contexts = await Promise.all([winner, late, watcher, newcomer].map((u) => loggedInContext(e2e.browser, e2e.shop, u, 'wide')));
  try {
    const [winnerPage, latePage, watcherPage] = await Promise.all(contexts.slice(0, 3).map((c) => openSale(c, e2e.shop, saleId)));
    await openCaptcha(latePage);
    expect(await buyThroughPage(winnerPage)).toMatch(ACCEPTED);

    // Mid-purchase: the server answers "sold out" and the page says it in words.
    expect(await confirmCaptcha(latePage, CAPTCHA_TEXT)).toBe('Sold out. Every unit was taken before your request reached us.');
    expect((await latePage.locator('#phase').textContent())?.trim()).toBe('Sold out');
    expect(await latePage.locator('#buy').isDisabled()).toBe(true);

    // Watching: the page learns it from its periodic state check, without a reload.
    await watcherPage.locator('#sale[data-phase="sold_out"]').waitFor({ timeout: 12_000 });
    expect((await watcherPage.locator('#buy').innerText()).trim()).toBe('Sold out');
    expect((await watcherPage.locator('#left').innerText()).trim()).toBe('0');

    // Arriving: sold out from the first paint.
    const newcomerPage = await openSale(contexts[3], e2e.shop, saleId);
    expect((await newcomerPage.locator('#phase').textContent())?.trim()).toBe('Sold out');
    expect(await newcomerPage.locator('#countdown').innerText()).toContain('All 1 sold');
    expect(await newcomerPage.locator('#buy').isDisabled()).toBe(true);

    await eventually(async () => (await e2e.shop.c.services.orders.listForSale(saleId)).length === 1, WAIT_MS, 'the one order');
    expect(await ordersOf(late.id, saleId)).toHaveLength(0);
  } finally {
    await Promise.all(contexts.map((c) => c.close()));
  }
});

it('when a shopper uses only the keyboard, then Tab reaches Buy, the captcha takes the focus, and Enter buys', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 5 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'kai');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper, 'narrow');
  try {
    const page = await openSale(context, e2e.shop, saleId);
    const focused = () => page.evaluate('document.activeElement && (document.activeElement.id || document.activeElement.textContent.trim())');
    const order: unknown[] = [];
    for (let i = 0; i < 12 && (await focused()) !== 'buy'; i++) {
      await page.keyboard.press('Tab');
      order.push(await focused());
    }
    // Skip link and header first, then the page in reading order, ending on the Buy button.
    expect(order[0]).toBe('Skip to content');
    expect(order.indexOf('← All sales')).toBeLessThan(order.indexOf('buy'));
    expect(order[order.length - 1]).toBe('buy');

    await page.keyboard.press('Enter');
    await page.locator('#captcha-form').waitFor({ state: 'visible' });
    expect(await focused()).toBe('captcha-answer');
    await page.keyboard.type(CAPTCHA_TEXT);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('result').textContent.trim() !== '', null, { timeout: WAIT_MS });
    expect(await resultText(page)).toMatch(ACCEPTED);
    // The outcome takes the focus, so a screen reader reads it where the form was.
    expect(await focused()).toBe('result');
  } finally {
    await context.close();
  }
});
