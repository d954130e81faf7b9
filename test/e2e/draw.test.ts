// A draw sale as shoppers live it in the browser: the page says what a draw is, the entry, the countdown to
// the results, the draw itself, won, not drawn, the leftover sold first come, and a restart of the shop in the
// middle of the window. Each state is saved as docs/screenshots/draw-<state>.png (UPDATE_DOCS_SCREENSHOTS=1).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import type { Container } from '../../src/container';
import { buildTestApp, TestApp } from '../helpers/buildTestApp';
import { waitFor } from '../helpers/waitFor';
import { createUser, launchBrowser, loggedInContext, openSale, recordErrors, screenshot, Shop, Shopper, confirmCaptcha, openCaptcha } from './support/shop';

/** A shop whose draws run only when the test says (its ticker stopped), so every state can be looked at. */
async function startShop(reuse?: TestApp, port = 0): Promise<Shop & { port: number }> {
  const app = await buildTestApp(reuse ? { reuse } : {});
  await app.c.services.draws.stop();
  const server = http.createServer(app.app);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${bound}`,
    port: bound,
    c: app.c,
    app,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A draw sale opened a moment ago whose entries close `windowSeconds` after the opening. */
async function drawSale(c: Container, stock: number, windowSeconds: number): Promise<number> {
  const productId = await c.services.catalog.createProduct({ name: 'Aurora X1 phone', description: '6.1-inch OLED, 128 GB. Launch stock, drawn fairly.', image: '/img/phone.svg', priceCents: 69900 });
  const startsAt = new Date(Date.now() - 1000);
  return c.services.catalog.createSale({ productId, stock, priceCents: 19900, startsAt, endsAt: new Date(startsAt.getTime() + 3600_000), allocation: 'draw', drawWindowSeconds: windowSeconds });
}

const drawAt = async (c: Container, saleId: number) => {
  const s = (await c.repos.sales.findById(saleId))!;
  return s.startsAt.getTime() + s.drawWindowSeconds * 1000;
};

/** Runs the due draw as the ticker would, once the window has ended. */
async function drawWhenDue(c: Container, saleId: number): Promise<void> {
  const at = await drawAt(c, saleId);
  await waitFor('the end of the entry window', () => Date.now() >= at, 60_000, 50);
  await c.services.draws.runDue();
}

const text = (page: Page, sel: string) => page.locator(sel).innerText();

describe('a draw sale in the browser', () => {
  let shop: Shop & { port: number };
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    shop = await startShop();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await shop?.close();
    await shop?.app.close();
  });

  async function shopperPage(who: Shopper, saleId: number, viewport: 'wide' | 'narrow' = 'wide'): Promise<Page> {
    const context = await loggedInContext(browser, shop, who, viewport);
    contexts.push(context);
    return openSale(context, shop, saleId);
  }

  it('when a shopper opens an upcoming draw sale, then the page says it is a draw, what that means, and shows the commitment', async () => {
    const productId = await shop.c.services.catalog.createProduct({ name: 'Aurora X1 phone', description: 'Launch stock, drawn fairly.', image: '/img/phone.svg', priceCents: 69900 });
    const startsAt = new Date(Date.now() + 3600_000);
    const saleId = await shop.c.services.catalog.createSale({ productId, stock: 100, priceCents: 19900, startsAt, endsAt: new Date(startsAt.getTime() + 3600_000), allocation: 'draw', drawWindowSeconds: 10 });
    const page = await shopperPage(await createUser(shop.c, 'shopper', 'una'), saleId);
    const errors = recordErrors(page);
    expect(await text(page, '#draw-about')).toMatch(/This sale is a draw[\s\S]*first 10 seconds[\s\S]*same chance[\s\S]*100 units go to the first 100 entries in that order; what is left afterwards sells first come/);
    const commitment = (await shop.c.repos.sales.findById(saleId))!.drawCommitment!;
    expect(await text(page, '#draw-commitment')).toBe(commitment);
    expect(await page.locator('#draw-seed-line').isHidden()).toBe(true);
    expect((await text(page, '#buy')).trim()).toBe('Enter the draw');
    await screenshot(page, 'draw-upcoming', 'wide', { docs: 'draw-upcoming.png' });
    expect(errors).toEqual([]);
  });

  it('when shoppers enter in the window, then each is told they are in the draw with the results time; after it one has won and the other was not drawn', async () => {
    const saleId = await drawSale(shop.c, 1, 12);
    const [ana, ben] = [await createUser(shop.c, 'shopper', 'ana'), await createUser(shop.c, 'shopper', 'ben')];
    const pages = [await shopperPage(ana, saleId), await shopperPage(ben, saleId, 'narrow')];
    const errors = pages.map(recordErrors);

    expect((await pages[0].locator('#phase').textContent())?.trim()).toBe('Draw open');
    expect(await text(pages[0], '#countdown')).toMatch(/Entries close in\s*00:00:\d\d/);
    await screenshot(pages[0], 'draw-entering', 'wide', { docs: 'draw-entering.png' });

    const closesAt = await drawAt(shop.c, saleId);
    const results = `${new Date(closesAt).toISOString().slice(11, 19)} UTC`;
    for (const page of pages) {
      await openCaptcha(page);
      expect(await confirmCaptcha(page, 'AbCd5')).toMatch(/You are in the draw\. Results at/);
      await page.locator('#sale[data-phase="entered"]').waitFor();
      expect(await text(page, '#draw-status')).toContain(`You are in the draw, results at ${results}`);
      expect(await text(page, '#countdown')).toMatch(/Results in\s*00:00:\d\d/);
      expect(await page.locator('#buy').isDisabled()).toBe(true);
    }
    await screenshot(pages[0], 'draw-entered', 'wide', { docs: 'draw-entered.png' });
    await screenshot(pages[1], 'draw-entered', 'narrow', { docs: 'draw-entered-narrow.png' });

    // The window has ended and the draw has not run yet: the pages say it is being drawn.
    await waitFor('the end of the entry window', () => Date.now() >= closesAt, 30_000, 50);
    await pages[0].locator('#countdown', { hasText: 'Drawing' }).waitFor({ timeout: 5000 });
    expect(await text(pages[0], '#draw-status')).toMatch(/Drawing now, results in a moment/);
    await screenshot(pages[0], 'draw-drawing', 'wide', { docs: 'draw-drawing.png' });

    await drawWhenDue(shop.c, saleId);
    const winnerId = (await shop.c.repos.draws.entriesOf(saleId)).find((e) => e.outcome === 'won')!.userId;
    const [won, lost] = winnerId === ana.id ? pages : [pages[1], pages[0]];
    await won.locator('#sale[data-phase="won"]').waitFor({ timeout: 10_000 });
    expect(await text(won, '#draw-status')).toBe('You won: your order is in My orders.');
    expect(await won.locator('#draw-status a[href="/orders"]').count()).toBe(1);
    expect(await won.locator('#draw-seed-line').isVisible()).toBe(true);
    expect(await text(won, '#draw-seed')).toBe((await shop.c.repos.sales.findById(saleId))!.drawSeed);
    await lost.locator('#sale[data-phase="lost"]').waitFor({ timeout: 10_000 });
    expect(await text(lost, '#draw-status')).toBe('Not drawn this time.');
    for (const page of pages) expect(await text(page, '#result')).toBe('');
    expect((await lost.locator('#phase').textContent())?.trim()).toBe('Not drawn');
    await screenshot(won, 'draw-won', winnerId === ana.id ? 'wide' : 'narrow', { docs: 'draw-won.png' });
    await screenshot(lost, 'draw-lost', winnerId === ana.id ? 'narrow' : 'wide', { docs: 'draw-lost.png' });
    // The admin's view of the draw: entries, commitment, revealed seed, winners.
    const adminContext = await loggedInContext(browser, shop, await createUser(shop.c, 'admin', 'boss'));
    contexts.push(adminContext);
    const admin = await adminContext.newPage();
    await admin.goto(`${shop.base}/admin/sales/${saleId}/draw`);
    expect(await text(admin, '#draw-entries')).toBe('2');
    expect(await text(admin, '#draw-winners')).toBe('1');
    expect(await text(admin, '#draw-winner-ids')).toBe(String(winnerId));
    expect(await text(admin, '#draw-seed')).toBe((await shop.c.repos.sales.findById(saleId))!.drawSeed);
    await screenshot(admin, 'draw-admin', 'wide', { docs: 'draw-admin.png' });
    // The winner's order is in My orders.
    await won.goto(`${shop.base}/orders`);
    expect(await text(won, 'main')).toMatch(/Aurora X1 phone/);
    expect(errors.flat()).toEqual([]);
  });

  it('when fewer enter than there are units, then after the draw a shopper who did not enter is told the rest sells first come, and buys', async () => {
    const saleId = await drawSale(shop.c, 5, 8);
    const [cai, dee] = [await createUser(shop.c, 'shopper', 'cai'), await createUser(shop.c, 'shopper', 'dee')];
    const entrant = await shopperPage(cai, saleId);
    await openCaptcha(entrant);
    expect(await confirmCaptcha(entrant, 'AbCd5')).toMatch(/You are in the draw/);
    await drawWhenDue(shop.c, saleId);
    await entrant.locator('#sale[data-phase="won"]').waitFor({ timeout: 10_000 });

    const late = await shopperPage(dee, saleId);
    await late.locator('#sale[data-phase="live"]').waitFor();
    expect(await text(late, '#draw-status')).toBe('The draw is done. What is left (4) now sells first come: Buy now while it lasts.');
    expect((await text(late, '#buy')).trim()).toBe('Buy now');
    await screenshot(late, 'draw-leftover', 'wide', { docs: 'draw-leftover.png' });
    await openCaptcha(late);
    expect(await confirmCaptcha(late, 'AbCd5')).toMatch(/Order accepted|Order confirmed/);
  });

  it('when the shop restarts in the middle of the window, then the entry is kept and the draw after the restart counts it', async () => {
    const saleId = await drawSale(shop.c, 1, 15);
    const eve = await createUser(shop.c, 'shopper', 'eve');
    const page = await shopperPage(eve, saleId);
    await openCaptcha(page);
    expect(await confirmCaptcha(page, 'AbCd5')).toMatch(/You are in the draw/);

    await shop.close();
    await shop.app.stop();
    shop = await startShop(shop.app, shop.port);
    expect(shop.c.services.book.draws.entryState(saleId, eve.id)).toBe('entered');

    await page.reload();
    await page.locator('#sale[data-ready][data-phase="entered"]').waitFor();
    expect(await text(page, '#draw-status')).toMatch(/You are in the draw, results at/);
    await drawWhenDue(shop.c, saleId);
    await page.locator('#sale[data-phase="won"]').waitFor({ timeout: 10_000 });
    expect(await shop.c.repos.orders.countBySale(saleId)).toBe(1);
  });
});
