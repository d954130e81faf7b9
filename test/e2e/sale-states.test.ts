// Every state of the sale page as a shopper sees it, on a phone and on a desktop, saved as screenshots.
import type { Page } from 'playwright-core';
import {
  createSale,
  createUser,
  loggedInContext,
  recordErrors,
  screenshot,
  Shopper,
  useShop,
  ViewportName,
  VIEWPORTS,
} from './support/shop';

const e2e = useShop();
let shopper: Shopper;
const sales: Record<string, number> = {};

beforeAll(async () => {
  shopper = await createUser(e2e.shop.c, 'shopper', 'mia');
  const buyer = await createUser(e2e.shop.c, 'shopper', 'early');
  sales.upcoming = await createSale(e2e.shop.c, { startsInMs: 2 * 3600_000 + 754_000, stock: 100 });
  sales.live = await createSale(e2e.shop.c, { startsInMs: -60_000, stock: 100 });
  sales.sold_out = await createSale(e2e.shop.c, { startsInMs: -60_000, stock: 1 });
  sales.ended = await createSale(e2e.shop.c, { startsInMs: -7200_000, durationMs: 3600_000, stock: 100 });
  sales.bought = await createSale(e2e.shop.c, { startsInMs: -60_000, stock: 100 });
  // Units taken through the funnel's own inventory, as a purchase would.
  for (let i = 0; i < 37; i++) e2e.shop.c.services.book.inventory.tryReserve(sales.live, 10_000 + i);
  e2e.shop.c.services.book.inventory.tryReserve(sales.sold_out, buyer.id);
  e2e.shop.c.services.book.inventory.tryReserve(sales.bought, shopper.id);
});

const expected = {
  upcoming: { badge: 'Coming up', button: 'Buy now', enabled: false, text: /Starts in\s*02:1[12]:\d\d/ },
  live: { badge: 'Live now', button: 'Buy now', enabled: true, text: /Ends in\s*00:5\d:\d\d/ },
  sold_out: { badge: 'Sold out', button: 'Sold out', enabled: false, text: /All 1 sold/ },
  ended: { badge: 'Ended', button: 'Sale ended', enabled: false, text: /Sale over/ },
  bought: { badge: 'Yours', button: 'Bought', enabled: false, text: /You got one!/ },
} as const;

async function expectState(page: Page, state: keyof typeof expected): Promise<void> {
  const e = expected[state];
  await page.locator(`#sale[data-ready][data-phase="${state}"]`).waitFor();
  expect((await page.locator('#phase').textContent())?.trim()).toBe(e.badge);
  expect(await page.locator('#countdown').innerText()).toMatch(e.text);
  expect((await page.locator('#buy').innerText()).trim()).toContain(e.button);
  expect(await page.locator('#buy').isEnabled()).toBe(e.enabled);
}

describe.each(Object.keys(VIEWPORTS) as ViewportName[])('on a %s screen', (viewport) => {
  it('when the shop lists its sales, then live ones come first and each card says its state', async () => {
    const context = await loggedInContext(e2e.browser, e2e.shop, shopper, viewport);
    try {
      const page = await context.newPage();
      await page.goto(`${e2e.shop.base}/`);
      const badges = (await page.locator('.sale-item .badge').allTextContents()).map((t) => t.trim());
      expect(badges).toEqual(['Live now', 'Live now', 'Coming up', 'Sold out', 'Ended']);
      await screenshot(page, 'sales-index', viewport);
    } finally {
      await context.close();
    }
  });

  it.each(Object.keys(expected) as (keyof typeof expected)[])('when the sale is %s, then the page says so', async (state) => {
    const context = await loggedInContext(e2e.browser, e2e.shop, shopper, viewport);
    try {
      const page = await context.newPage();
      const errors = recordErrors(page);
      await page.goto(`${e2e.shop.base}/sales/${sales[state]}`);
      await expectState(page, state);
      await page.waitForTimeout(300); // a few redraws
      expect(errors).toEqual([]);
      // The buy button keeps its size in every state: no layout jump when it lights up.
      const box = await page.locator('#buy').boundingBox();
      expect(box?.height).toBeGreaterThanOrEqual(52);
      await screenshot(page, `sale-${state.replace('_', '-')}`, viewport, { docs: state === 'live' || state === 'sold_out' });
    } finally {
      await context.close();
    }
  });
});
