// The e2e harness: the real app served on a free loopback port, Debian's Chromium driven by
// playwright-core, shoppers and sales made through the app's own services, and screenshots.
import { copyFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import type { Container } from '../../../src/container';
import type { Role } from '../../../src/models';
import { renderCaptcha } from '../../../src/lib/captchaImage';
import type { CaptchaGenerator } from '../../../src/services/CaptchaPool';
import { buildTestApp, CAPTCHA_TEXT, TestApp, TestAppOptions } from '../../helpers/buildTestApp';

export { CAPTCHA_TEXT };

/** Every wait in the suite is bounded by this unless a test says otherwise. */
export const WAIT_MS = 8_000;

export const VIEWPORTS = {
  narrow: { width: 390, height: 844 },
  wide: { width: 1280, height: 800 },
} as const;
export type ViewportName = keyof typeof VIEWPORTS;

const SCREENSHOT_DIR = path.resolve(__dirname, '../../../test-results/screenshots');
const DOCS_DIR = path.resolve(__dirname, '../../../docs/screenshots');

export interface Shop {
  base: string;
  c: Container;
  app: TestApp;
  close(): Promise<void>;
}

/** The real app on a fresh embedded database and in-process queue, listening on 127.0.0.1:<free port>. */
export async function startShop(options: TestAppOptions = {}): Promise<Shop> {
  const app = await buildTestApp(options);
  const server = http.createServer(app.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    c: app.c,
    app,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}

export interface ShopInUse {
  /** The running shop; read it inside a hook or a test (it starts in beforeAll). */
  readonly shop: Shop;
  /** The browser driving it; same rule. */
  readonly browser: Browser;
}

/**
 * The suite's one setup: registers a beforeAll that starts the shop (with these options) and a browser,
 * and an afterAll that closes both (the browser's contexts with it). Call it at the top of a test file.
 */
export function useShop(options: TestAppOptions = {}): ShopInUse {
  let shop: Shop | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    shop = await startShop(options);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await shop?.close();
  });
  const notYet = (what: string) => new Error(`useShop: the ${what} starts in beforeAll; read it inside a hook or a test`);
  return {
    get shop() {
      if (!shop) throw notYet('shop');
      return shop;
    },
    get browser() {
      if (!browser) throw notYet('browser');
      return browser;
    },
  };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

let serial = 0;

export interface Shopper {
  id: number;
  userName: string;
  nickName: string;
  password: string;
}

/** An account made through the account service (the suite's own construction, not an HTTP route). */
export async function createUser(c: Container, role: Role = 'shopper', prefix: string = role): Promise<Shopper> {
  serial += 1;
  const userName = `${prefix}${serial}_${process.pid}`.slice(0, 32);
  const nickName = `${prefix[0].toUpperCase()}${prefix.slice(1)}`;
  const password = 'correct horse battery';
  const user = await c.services.accounts.register(userName, nickName, password, role);
  return { id: user.id, userName, nickName, password };
}

/** A browser context already logged in as the shopper: the login cookie is issued by the account service. */
export async function loggedInContext(
  browser: Browser,
  shop: Shop,
  user: Shopper,
  viewport: ViewportName = 'wide',
): Promise<BrowserContext> {
  const context = await newContext(browser, viewport);
  await context.addCookies([
    { name: 'sid', value: shop.c.services.accounts.issueSession(user.id), url: shop.base, httpOnly: true, sameSite: 'Lax' },
  ]);
  return context;
}

export async function newContext(browser: Browser, viewport: ViewportName = 'wide'): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: VIEWPORTS[viewport], reducedMotion: 'reduce' });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  return context;
}

export interface SaleOptions {
  stock?: number;
  /** Start relative to now; negative means already started. */
  startsInMs?: number;
  durationMs?: number;
  name?: string;
  priceCents?: number;
  listPriceCents?: number;
}

/** A product and its sale, made through the catalog service. */
export async function createSale(c: Container, o: SaleOptions = {}): Promise<number> {
  const productId = await c.services.catalog.createProduct({
    name: o.name ?? 'Aurora X1 phone',
    description: '6.1-inch OLED, 128 GB, all-day battery. Limited launch stock at the flash-sale price.',
    image: '/img/phone.svg',
    priceCents: o.listPriceCents ?? 69900,
  });
  const startsAt = new Date(Date.now() + (o.startsInMs ?? -1000));
  return c.services.catalog.createSale({
    productId,
    stock: o.stock ?? 10,
    priceCents: o.priceCents ?? 19900,
    startsAt,
    endsAt: new Date(startsAt.getTime() + (o.durationMs ?? 3600_000)),
  });
}

/**
 * Saves a full-page PNG under test-results/screenshots/<name>-<viewport>.png. With `docs` and
 * UPDATE_DOCS_SCREENSHOTS=1 in the environment, also refreshes the copy in docs/screenshots (the README's):
 * under the same name for `docs: true`, under the given file name for `docs: 'some.png'`.
 */
export async function screenshot(page: Page, name: string, viewport: ViewportName, opts: { docs?: boolean | string } = {}): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}-${viewport}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
  if (opts.docs && process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    mkdirSync(DOCS_DIR, { recursive: true });
    copyFileSync(file, path.join(DOCS_DIR, typeof opts.docs === 'string' ? opts.docs : path.basename(file)));
  }
  return file;
}

/** Polls until `check` returns a truthy value, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = WAIT_MS, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


// Callbacks passed to page.evaluate run in the browser; the project's lib has no DOM types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

/**
 * A captcha generator whose answer is always CAPTCHA_TEXT but whose picture is drawn afresh each time, so a
 * test can see that a new picture came.
 */
export function knownCaptcha(): CaptchaGenerator {
  return { create: () => ({ text: CAPTCHA_TEXT, png: renderCaptcha().png }) };
}

/** Opens a sale page and waits until its script has synced the clock and drawn the first state. */
export async function openSale(context: BrowserContext, shop: Shop, saleId: number): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${shop.base}/sales/${saleId}`);
  await page.locator('#sale[data-ready]').waitFor();
  return page;
}

/**
 * Clicks Buy and waits for what the challenge brings: the captcha form with its picture loaded (then null),
 * or, when the shop refuses the challenge, the words the page shows instead (then those words).
 */
export async function clickBuy(page: Page): Promise<string | null> {
  await page.locator('#buy:enabled').click();
  const handle = await page.waitForFunction(
    () => {
      const form = document.getElementById('captcha-form')!;
      const img = document.querySelector('#captcha-image img');
      // The picture counts once the browser has decoded it: a broken data URL never does.
      if (!form.hidden && img && img.complete && img.naturalWidth > 0) return { open: true, said: '' };
      const said = document.getElementById('result')!.textContent!.trim();
      return said ? { open: false, said } : null;
    },
    null,
    { timeout: WAIT_MS },
  );
  const seen = (await handle.jsonValue()) as { open: boolean; said: string };
  return seen.open ? null : seen.said;
}

/** Clicks Buy and waits for the captcha (its PNG picture decoded); fails with the page's words if refused. */
export async function openCaptcha(page: Page): Promise<void> {
  const refused = await clickBuy(page);
  if (refused !== null) throw new Error(`the captcha did not open; the page said: ${refused}`);
}

/** Types an answer, confirms, and waits for the words the page shows (result or the field's error). */
export async function confirmCaptcha(page: Page, answer: string): Promise<string> {
  const before = await page.locator('#captcha-image').innerHTML();
  await page.locator('#captcha-answer').fill(answer);
  await page.locator('#captcha-submit').click();
  const handle = await page.waitForFunction(
    (pictureBefore) => {
      const result = document.getElementById('result')!.textContent!.trim();
      if (result) return result;
      const err = document.getElementById('captcha-error')!.textContent!.trim();
      // A wrong answer counts as answered once the new picture is in and decoded.
      const img = document.querySelector('#captcha-image img');
      const fresh = document.getElementById('captcha-image')!.innerHTML !== pictureBefore && img && img.complete && img.naturalWidth > 0;
      if (err && fresh) return err;
      return null;
    },
    before,
    { timeout: WAIT_MS },
  );
  return (await handle.jsonValue()) as string;
}

/** Buy from an open, live sale page: Buy, captcha, confirm. Returns the words shown. */
export async function buyThroughPage(page: Page, answer = CAPTCHA_TEXT): Promise<string> {
  await openCaptcha(page);
  return confirmCaptcha(page, answer);
}

/** URLs of the requests a page has made, for "was this asked before that?" checks. */
export function recordRequests(page: Page): { url: string; method: string; at: number }[] {
  const seen: { url: string; method: string; at: number }[] = [];
  page.on('request', (r) => seen.push({ url: r.url(), method: r.method(), at: Date.now() }));
  return seen;
}

/** Script errors and console errors (CSP violations, failed loads) a page produces; should stay empty. */
export function recordErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}
