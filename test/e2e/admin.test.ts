// The admin's side in a real browser: create a product and a sale through the admin pages, and find
// the sale in the admin list and in the shop.
import type { BrowserContext } from 'playwright-core';
import { createUser, newContext, screenshot, useShop } from './support/shop';

const e2e = useShop();
let context: BrowserContext;

/** datetime-local value in UTC, as the admin form expects. */
function utcInput(d: Date): string {
  return d.toISOString().slice(0, 16);
}

it('when an admin creates a product and a sale through the admin pages, then the sale appears in the list and in the shop', async () => {
  const admin = await createUser(e2e.shop.c, 'admin', 'boss');
  context = await newContext(e2e.browser, 'wide');
  const page = await context.newPage();

  // Log in through the form, as an admin would.
  await page.goto(`${e2e.shop.base}/user/login`);
  await page.getByLabel('User name').fill(admin.userName);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${e2e.shop.base}/`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
  await page.waitForURL(`${e2e.shop.base}/admin`);

  await page.goto(`${e2e.shop.base}/admin/products/new`);
  await page.getByLabel('Name').fill('Nimbus earbuds');
  await page.getByLabel('Description').fill('Wireless earbuds with noise cancelling.');
  await page.getByLabel('Image').fill('/img/phone.svg');
  await page.getByLabel('List price (USD)').fill('129.00');
  await page.getByRole('button', { name: 'Create product' }).click();
  await page.waitForURL(/\/admin\/products(\?.*)?$/);
  const productRow = page.locator('tr.product', { hasText: 'Nimbus earbuds' });
  expect(await productRow.count()).toBe(1);
  expect(await productRow.innerText()).toContain('$129.00');

  const startsAt = new Date(Math.ceil((Date.now() + 2 * 3600_000) / 60_000) * 60_000);
  const endsAt = new Date(startsAt.getTime() + 3600_000);
  await page.goto(`${e2e.shop.base}/admin/sales/new`);
  await page.getByLabel('Product').selectOption({ label: 'Nimbus earbuds' });
  await page.getByLabel('Stock (units)').fill('25');
  await page.getByLabel('Sale price (USD)').fill('49.99');
  await page.getByLabel('Starts at (UTC)').fill(utcInput(startsAt));
  await page.getByLabel('Ends at (UTC)').fill(utcInput(endsAt));
  await page.getByRole('button', { name: 'Create sale' }).click();
  await page.waitForURL(/\/admin\/sales(\?.*)?$/);

  const saleRow = page.locator('tr.sale', { hasText: 'Nimbus earbuds' });
  expect(await saleRow.count()).toBe(1);
  const rowText = await saleRow.innerText();
  expect(rowText).toContain('$49.99');
  expect(rowText).toContain('25');
  expect(rowText).toContain('Upcoming');
  expect(rowText).toContain(`${startsAt.toISOString().replace('T', ' ').slice(0, 16)} UTC`);
  await screenshot(page, 'admin-sales', 'wide');

  // Shoppers see it too, with its countdown.
  const saleId = Number(await saleRow.getAttribute('data-id'));
  const sales = await e2e.shop.c.services.catalog.listSales();
  expect(sales.find((s) => s.id === saleId)).toMatchObject({ stock: 25, priceCents: 4999, startsAt, endsAt });
  await page.goto(`${e2e.shop.base}/`);
  const card = page.locator(`.sale-item[data-sale-id="${saleId}"]`);
  expect(await card.innerText()).toContain('Nimbus earbuds');
  await page.goto(`${e2e.shop.base}/sales/${saleId}`);
  await page.locator('#sale[data-ready][data-phase="upcoming"]').waitFor();
  expect(await page.locator('#countdown-value').innerText()).toMatch(/^0[12]:\d\d:\d\d$/);
});
