// The check without a picture, for people who cannot see it: no image, a wait that the page counts down,
// then the purchase with an empty answer. The server refuses an answer sent before the wait is over.
import { clickBuy, createSale, createUser, loggedInContext, openSale, useShop, WAIT_MS } from './support/shop';

const WAIT = 3000;
const e2e = useShop({ env: { CAPTCHA_WAIT_MS: String(WAIT) } });

it('when a shopper asks for the check without a picture, then the page counts the wait down, and confirming after it buys', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 3 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'nora');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  const page = await openSale(context, e2e.shop, saleId);

  expect(await clickBuy(page)).toBeNull(); // the picture came
  await page.locator('#captcha-nopicture').click();
  await page.locator('#captcha-image', { hasText: 'No picture: you can confirm in' }).waitFor({ timeout: WAIT_MS });

  // Before the wait is over the confirm button stays disabled, and there is no answer field to fill.
  expect(await page.locator('#captcha-submit').isDisabled()).toBe(true);
  expect(await page.locator('#captcha-field').isHidden()).toBe(true);
  expect(await page.locator('#captcha-image img').count()).toBe(0);

  await page.locator('#captcha-submit:enabled').waitFor({ timeout: WAIT + WAIT_MS });
  await page.locator('#captcha-submit').click();
  await page.locator('#result', { hasText: /^Order (accepted|confirmed)/ }).waitFor({ timeout: WAIT_MS });
  await context.close();
});

it('when the empty answer is sent before the wait is over, then the server refuses it with CAPTCHA_EARLY and sells nothing', async () => {
  const saleId = await createSale(e2e.shop.c, { stock: 3 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'omar');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper);
  const page = await openSale(context, e2e.shop, saleId);

  const answer = await page.evaluate(async (id) => {
    const c = (await (await fetch(`/api/sales/${id}/challenge/wait`, { method: 'POST' })).json()) as { path: string; captchaId: string; image: string | null };
    const r = await fetch(c.path, { method: 'POST', headers: { 'X-Captcha': `${c.captchaId}.` } });
    return { image: c.image, status: r.status, code: ((await r.json()) as { code: string }).code };
  }, saleId);

  expect(answer).toEqual({ image: null, status: 425, code: 'CAPTCHA_EARLY' });
  expect(e2e.shop.c.services.book.inventory.remaining(saleId)).toBe(3);
  await context.close();
});
