// The moment a sale opens, in a real browser: the countdown runs on the shop's clock, the button lights
// up by itself, the challenge comes sealed during the countdown and opens with the key published at the
// start, the secret purchase path is nowhere readable before it, and screen readers are not spammed.
import {
  CAPTCHA_TEXT,
  confirmCaptcha,
  createSale,
  createUser,
  knownCaptcha,
  loggedInContext,
  openCaptcha,
  recordRequests,
  screenshot,
  useShop,
} from './support/shop';

const e2e = useShop({ captcha: knownCaptcha() });

it('when a sale opens a few seconds later, then the countdown runs, the challenge comes sealed, and at the start the key opens it and the button lights up without a reload', async () => {
  const OPENS_IN_MS = 6_000;
  const saleId = await createSale(e2e.shop.c, { startsInMs: OPENS_IN_MS, stock: 3 });
  const startsAt = (await e2e.shop.c.services.catalog.getSale(saleId)).startsAt.getTime();
  const shopper = await createUser(e2e.shop.c, 'shopper', 'dora');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper, 'narrow');
  try {
    const page = await context.newPage();
    const requests = recordRequests(page);
    const challengeUrl = `/api/sales/${saleId}/challenge`;
    const sealedAnswer = page.waitForResponse((r) => r.url().endsWith(challengeUrl));
    const keyAnswer = page.waitForResponse((r) => r.url().endsWith(`/api/sales/${saleId}/key`) && r.status() === 200, { timeout: OPENS_IN_MS + 10_000 });
    const navigations: string[] = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations.push(f.url());
    });
    const response = await page.goto(`${e2e.shop.base}/sales/${saleId}`);
    const html = await response!.text();
    await page.locator('#sale[data-ready][data-phase="upcoming"]').waitFor();

    // Nothing in the page, as served or as it is now, gives the purchase path away.
    const buyPrefix = `/api/sales/${saleId}/buy/`;
    const secret = e2e.shop.c.services.tickets.pathFor(saleId, shopper.id);
    expect(html).not.toContain(buyPrefix);
    expect(html).not.toContain(secret);
    expect(await page.content()).not.toContain(buyPrefix);

    // Count what screen readers would hear from the polite region while the countdown runs.
    await page.evaluate(`(() => {
      window.__spoken = [];
      const region = document.getElementById('announce');
      new MutationObserver(() => { if (region.textContent) window.__spoken.push(region.textContent); })
        .observe(region, { childList: true, characterData: true, subtree: true });
    })()`);

    expect(await page.locator('#buy').isDisabled()).toBe(true);
    expect((await page.locator('#phase').textContent())?.trim()).toBe('Coming up');
    const first = await page.locator('#countdown-value').innerText();
    expect(first).toMatch(/^00:00:0[1-6]$/);
    await screenshot(page, 'sale-opening-countdown', 'narrow');
    await page.waitForTimeout(1_300);
    const second = await page.locator('#countdown-value').innerText();
    expect(second).toMatch(/^00:00:0[0-5]$/);
    expect(second < first).toBe(true);
    const spokenBeforeStart = (await page.evaluate('window.__spoken.slice()')) as string[];
    expect(spokenBeforeStart).toEqual([]);

    await page.locator('#buy:enabled').waitFor({ timeout: OPENS_IN_MS + 4_000 });
    const litAt = Date.now();
    // Same machine, same clock: the button lights up at the start, not before it and not long after.
    expect(litAt).toBeGreaterThanOrEqual(startsAt - 150);
    expect(litAt - startsAt).toBeLessThan(2_000);
    expect(navigations).toHaveLength(1);
    expect((await page.locator('#phase').textContent())?.trim()).toBe('Live now');
    expect(await page.locator('#countdown').innerText()).toMatch(/Ends in\s*(01:00:00|00:59:5\d)/);

    // The challenge came once during the countdown, sealed: no path and no picture in it; the key that opens
    // it was asked for at the start, not before; the old path route is not used at all.
    const sealed = (await (await sealedAnswer).json()) as Record<string, unknown>;
    expect(Object.keys(sealed).sort()).toEqual(['ok', 'opensAt', 'sealed']);
    expect(JSON.stringify(sealed)).not.toContain(secret);
    const asks = requests.filter((r) => r.url.endsWith(challengeUrl));
    expect(asks.map((r) => r.method)).toEqual(['POST']);
    expect(asks[0].at).toBeLessThan(startsAt);
    await keyAnswer;
    const keys = requests.filter((r) => r.url.endsWith(`/api/sales/${saleId}/key`));
    expect(keys[0].at).toBeGreaterThanOrEqual(startsAt - 150);
    expect(requests.filter((r) => r.url.endsWith(`/api/sales/${saleId}/path`))).toEqual([]);
    expect(await page.content()).not.toContain(buyPrefix);

    // The opening is announced once, politely.
    await page.waitForTimeout(300);
    expect(await page.evaluate('window.__spoken.slice()')).toEqual(['The sale is open. The Buy now button is enabled.']);
    expect(await page.locator('#announce').getAttribute('aria-live')).toBe('polite');
    expect(await page.locator('#countdown').getAttribute('aria-live')).toBeNull();

    // And the lit button works: Buy shows the opened captcha with no further request, and the purchase goes
    // to the secret path that was sealed in it.
    await openCaptcha(page);
    expect(requests.filter((r) => r.url.endsWith(challengeUrl))).toHaveLength(1);
    expect(await confirmCaptcha(page, CAPTCHA_TEXT)).toMatch(/^Order (accepted|confirmed)/);
    const buys = requests.filter((r) => r.method === 'POST' && r.url.includes(buyPrefix));
    expect(buys.map((r) => new URL(r.url).pathname)).toEqual([`${buyPrefix}${secret}`]);
  } finally {
    await context.close();
  }
});

it('when the button lights up, then neither it nor the status panel moves or changes size', async () => {
  const saleId = await createSale(e2e.shop.c, { startsInMs: 3_000, stock: 3 });
  const shopper = await createUser(e2e.shop.c, 'shopper', 'eli');
  const context = await loggedInContext(e2e.browser, e2e.shop, shopper, 'wide');
  try {
    const page = await context.newPage();
    await page.goto(`${e2e.shop.base}/sales/${saleId}`);
    await page.locator('#sale[data-ready][data-phase="upcoming"]').waitFor();
    const before = await page.locator('#buy').boundingBox();
    const panelBefore = await page.locator('#status').boundingBox();
    await page.locator('#buy:enabled').waitFor({ timeout: 7_000 });
    const after = await page.locator('#buy').boundingBox();
    const panelAfter = await page.locator('#status').boundingBox();
    expect(after).toEqual(before);
    expect(panelAfter).toEqual(panelBefore);
  } finally {
    await context.close();
  }
});
