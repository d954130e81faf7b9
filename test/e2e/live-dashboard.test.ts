// The operator's screens in Chromium: the live dashboard during a sale until it sells out and shows its summary,
// the admin pages at a phone's width (nothing off-screen), and the sale page's times in UTC with the zone.
import type { BrowserContext, Page } from 'playwright-core';
import { buy, createShoppers, waitForOrders } from '../helpers/shoppers';
import { createSale, createUser, loggedInContext, screenshot, useShop, VIEWPORTS, ViewportName } from './support/shop';

const e2e = useShop();
const contexts: BrowserContext[] = [];
afterAll(async () => {
  for (const c of contexts) await c.close();
});

async function adminPage(viewport: ViewportName): Promise<Page> {
  const admin = await createUser(e2e.shop.c, 'admin', 'boss');
  const context = await loggedInContext(e2e.browser, e2e.shop, admin, viewport);
  contexts.push(context);
  return context.newPage();
}

// Callbacks passed to page.evaluate run in the browser; the project's lib has no DOM types.
declare const document: { documentElement: { scrollWidth: number } };

it('when an admin watches a sale sell out, then the dashboard follows it live and ends with the summary', async () => {
  const { c, base } = e2e.shop;
  const saleId = await createSale(c, { stock: 20, name: 'Aurora X1 phone' });
  const shoppers = await createShoppers(c, 30);
  const page = await adminPage('wide');
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));

  await page.goto(`${base}/admin/sales/${saleId}/live`);
  await page.locator('#live[data-samples]').waitFor(); // the first sample came over the event stream
  for (const s of shoppers.slice(0, 12)) await buy(base, c, saleId, s);
  await page.locator('[data-live="left"]', { hasText: /^8$/ }).waitFor();
  await page.locator('#chart-rate polyline.accepted').waitFor();
  await screenshot(page, 'admin-live-selling', 'wide', { docs: true });

  // The summary waits for every accepted order to be written: hold the writer until the last refusal is counted.
  await c.writer.pause();
  for (const s of shoppers.slice(12)) await buy(base, c, saleId, s);
  await c.writer.start();
  await waitForOrders(c);
  await page.locator('#live-phase[data-phase="sold_out"]').waitFor();
  await page.locator('#summary:not([hidden]) [data-summary="audit"]', { hasText: 'passed' }).waitFor({ timeout: 15_000 });

  expect(await page.locator('[data-live="sold"]').innerText()).toBe('20 of 20');
  expect(await page.locator('[data-summary="accepted"]').innerText()).toBe('20');
  expect(await page.locator('[data-summary="ordersWritten"]').innerText()).toBe('20');
  expect(await page.locator('[data-summary="sellOutMs"]').innerText()).toMatch(/^\d+(\.\d)? m?s$/);
  expect(await page.locator('[data-summary="refused"]').innerText()).toContain('SOLD_OUT 10');
  expect(await page.locator('#refusals tr[data-code="SOLD_OUT"]').count()).toBe(1);
  expect(await page.locator('#live-at').innerText()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  expect(errors).toEqual([]);
  await screenshot(page, 'admin-live-sold-out', 'wide', { docs: true });
});

it('when the admin pages are opened on a phone (390 px), then nothing is wider than the screen', async () => {
  const { c, base } = e2e.shop;
  const saleId = await createSale(c, { stock: 3, name: 'Aurora X1 phone with a rather long product name' });
  const [buyer] = await createShoppers(c, 1);
  await buy(base, c, saleId, buyer);
  await waitForOrders(c);
  await c.services.blacklist.add({ userId: null, ip: '2001:db8:ffff:ffff:ffff:ffff:ffff:1234', reason: 'scripted buying from a data centre', until: null });
  const page = await adminPage('narrow');

  for (const path of ['/admin', '/admin/sales', '/admin/products', `/admin/sales/${saleId}/orders`, `/admin/sales/${saleId}/live`, '/admin/blacklist', `/admin/sales/${saleId}/delete`]) {
    await page.goto(`${base}${path}`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect({ path, width }).toEqual({ path, width: VIEWPORTS.narrow.width });
  }
  await page.goto(`${base}/admin/sales`);
  await screenshot(page, 'admin-sales', 'narrow', { docs: true });
  await page.goto(`${base}/admin/sales/${saleId}/live`);
  await page.locator('#live[data-samples]').waitFor();
  await screenshot(page, 'admin-live', 'narrow', { docs: true });
});

it('when the sale page shows when a sale starts, then it is the same UTC time with its zone as the list shows', async () => {
  const { c, base } = e2e.shop;
  const saleId = await createSale(c, { startsInMs: 3 * 86_400_000 });
  const sale = await c.services.catalog.getSale(saleId);
  const shopper = await createUser(c);
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper, 'wide');
  contexts.push(context);
  const page = await context.newPage();

  await page.goto(`${base}/sales/${saleId}`);
  await page.locator('#sale[data-ready]').waitFor();

  const expected = `${sale.startsAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  expect(await page.locator('#when-time').innerText()).toBe(expected);
  await page.goto(`${base}/`);
  expect(await page.locator(`.sale-item[data-sale-id="${saleId}"] time`).innerText()).toBe(expected);
});
