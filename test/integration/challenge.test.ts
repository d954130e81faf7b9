// The opening over HTTP: the path and captcha in one answer (POST /api/sales/:id/challenge), sealed during the
// countdown's last minute and opened with the key published at the opening (GET /api/sales/:id/key), in the
// clear once the sale has started; the answer with the purchase (X-Captcha); the order's status from memory;
// a dry pool answers 503 at once, never hangs.
import { TicketService } from '../../src/services/TicketService';
import type { CaptchaGenerator } from '../../src/services/CaptchaPool';
import { buildTestApp, CAPTCHA_TEXT, TestApp, testDatabases } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, createSale, createShoppers, Shopper } from '../helpers/shoppers';
import { waitFor } from '../helpers/waitFor';
import { unseal } from '../../tools/bench/journey';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64');

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { ok: boolean; code?: string; path?: string; captchaId?: string; image?: string; ticket?: string; sealed?: string; opensAt?: number };
}

async function post(base: string, url: string, cookie: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  const res = await fetch(`${base}${url}`, {
    method: 'POST',
    headers: { Cookie: cookie, ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer['body'] };
}

/** The CSRF cookie and token a page visit gives, as the sale page's script uses them. */
async function csrfFor(base: string, cookie: string): Promise<{ cookie: string; token: string }> {
  const page = await fetch(`${base}/`, { headers: { Cookie: cookie } });
  const csrfCookie = page.headers.getSetCookie().find((c) => c.startsWith('csrf='))!.split(';')[0];
  const token = /name="csrf-token" content="([^"]+)"/.exec(await page.text())![1];
  return { cookie: csrfCookie, token };
}

describe.each(testDatabases())('the opening on %s', (database) => {
  let t: TestApp;
  let server: { base: string; close(): Promise<void> };
  let shoppers: Shopper[];

  beforeAll(async () => {
    t = await buildTestApp({ database });
    server = await listen(t.app);
    shoppers = await createShoppers(t.c, 8);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it('when the sale opens later than the seal\'s lead, then no path, no captcha and no ticket: NOT_STARTED everywhere', async () => {
    const saleId = await createSale(t.c, { stock: 5, startsInMs: 10 * 60_000 });
    const [s] = shoppers;
    const before = t.c.services.captchaPool.available();

    const challenge = await post(server.base, `/api/sales/${saleId}/challenge`, s.cookie);
    const csrf = await csrfFor(server.base, s.cookie);
    const captcha = await post(server.base, `/api/sales/${saleId}/captcha`, `${s.cookie}; ${csrf.cookie}`, { 'X-CSRF-Token': csrf.token });
    const ticket = await post(server.base, `/api/sales/${saleId}/ticket`, `${s.cookie}; ${csrf.cookie}`, { 'X-CSRF-Token': csrf.token }, { captchaId: 'x', answer: 'y' });
    const path = await fetch(`${server.base}/api/sales/${saleId}/path`, { headers: { Cookie: s.cookie } });

    expect(challenge).toMatchObject({ status: 403, body: { ok: false, code: 'NOT_STARTED' } });
    expect(challenge.body.path).toBeUndefined();
    expect(challenge.body.image).toBeUndefined();
    expect(captcha).toMatchObject({ status: 403, body: { code: 'NOT_STARTED' } });
    expect(ticket).toMatchObject({ status: 403, body: { code: 'NOT_STARTED' } });
    expect(path.status).toBe(403);
    expect(t.c.services.captchaPool.available()).toBe(before);
  });

  it('when the sale is live, then one answer gives the path and a PNG captcha, and the answer buys with the purchase', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const s = shoppers[1];

    const c = await post(server.base, `/api/sales/${saleId}/challenge`, s.cookie);
    const bought = await buy(server.base, t.c, saleId, s, { ticket: '', path: c.body.path!.split('/').pop(), headers: { 'X-Captcha': `${c.body.captchaId}.${CAPTCHA_TEXT.toLowerCase()}` } });

    expect(c).toMatchObject({ status: 200, body: { ok: true, path: `/api/sales/${saleId}/buy/${t.c.services.tickets.pathFor(saleId, s.id)}` } });
    expect(c.body.image).toMatch(/^data:image\/png;base64,/);
    expect(bought).toMatchObject({ status: 202, code: 'ACCEPTED' });
  });

  it('when the sale opens within a minute, then the challenge comes sealed, the key only from the opening, and the opened captcha buys', async () => {
    const saleId = await createSale(t.c, { stock: 5, startsInMs: 1500 });
    const s = shoppers[6];

    const sealed = await post(server.base, `/api/sales/${saleId}/challenge`, s.cookie);
    const earlyKey = await fetch(`${server.base}/api/sales/${saleId}/key`);
    const earlyBuy = await buy(server.base, t.c, saleId, s, { ticket: '', headers: { 'X-Captcha': 'x.abcde' } });
    const opensAt = sealed.body.opensAt!;
    await waitFor('the opening', () => Date.now() >= opensAt, 5000);
    const key = await fetch(`${server.base}/api/sales/${saleId}/key`);
    const keyBody = (await key.json()) as { ok: boolean; key: string };
    const opened = unseal(sealed.body.sealed!, keyBody.key);
    const bought = await buy(server.base, t.c, saleId, s, { ticket: '', path: String(opened.path).split('/').pop(), headers: { 'X-Captcha': `${String(opened.captchaId)}.${CAPTCHA_TEXT}` } });

    expect(sealed.status).toBe(200);
    expect(Object.keys(sealed.body).sort()).toEqual(['ok', 'opensAt', 'sealed']);
    expect(earlyKey.status).toBe(403);
    expect(earlyKey.headers.get('cache-control')).toBe('no-store');
    expect(Number(earlyKey.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(earlyBuy).toMatchObject({ status: 403, code: 'NOT_STARTED' });
    expect(key.status).toBe(200);
    expect(key.headers.get('cache-control')).toBe('public, max-age=60');
    expect(opened).toMatchObject({ ok: true, path: `/api/sales/${saleId}/buy/${t.c.services.tickets.pathFor(saleId, s.id)}`, answerAfter: opensAt });
    expect(bought).toMatchObject({ status: 202, code: 'ACCEPTED' });
  });

  it('when a shopper asks for its order\'s status, then it is answered (from memory while it is fresh), and another shopper hears 404', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const [s, other] = [shoppers[7], shoppers[0]];
    const c = await post(server.base, `/api/sales/${saleId}/challenge`, s.cookie);
    const bought = await buy(server.base, t.c, saleId, s, { ticket: '', path: c.body.path!.split('/').pop(), headers: { 'X-Captcha': `${c.body.captchaId}.${CAPTCHA_TEXT}` } });
    const requestId = String(bought.requestId);
    const status = async (cookie: string) => {
      const res = await fetch(`${server.base}/api/orders/${requestId}`, { headers: { Cookie: cookie } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const first = await status(s.cookie);
    const foreign = await status(other.cookie);

    expect(first).toMatchObject({ status: 200, body: { ok: true, requestId, saleId, status: expect.stringMatching(/^(pending|confirmed)$/) } });
    expect(foreign).toMatchObject({ status: 404 });
  });

  it('when the answer is wrong, then 400 CAPTCHA_WRONG and nothing is bought; the right one then buys', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const s = shoppers[2];
    const c = await post(server.base, `/api/sales/${saleId}/challenge`, s.cookie);
    const path = c.body.path!.split('/').pop();

    const wrong = await buy(server.base, t.c, saleId, s, { ticket: '', path, headers: { 'X-Captcha': `${c.body.captchaId}.nope` } });
    const stolen = await buy(server.base, t.c, saleId, shoppers[3], { ticket: '', headers: { 'X-Captcha': `${c.body.captchaId}.${CAPTCHA_TEXT}` } });
    const right = await buy(server.base, t.c, saleId, s, { ticket: '', path, headers: { 'X-Captcha': `${c.body.captchaId}.${CAPTCHA_TEXT}` } });

    expect(wrong).toMatchObject({ status: 400, code: 'CAPTCHA_WRONG' });
    expect(stolen).toMatchObject({ status: 400, code: 'CAPTCHA_EXPIRED' }); // bound to the shopper it was given to
    expect(right).toMatchObject({ status: 202 });
  });

  it('when the check without a picture is exchanged for a ticket before its wait, then CAPTCHA_EARLY and no ticket', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const s = shoppers[5];
    const c = await post(server.base, `/api/sales/${saleId}/challenge/wait`, s.cookie);
    const csrf = await csrfFor(server.base, s.cookie);

    const ticket = await post(server.base, `/api/sales/${saleId}/ticket`, `${s.cookie}; ${csrf.cookie}`, { 'X-CSRF-Token': csrf.token }, { captchaId: c.body.captchaId, answer: 'x' });

    expect(c).toMatchObject({ status: 200, body: { ok: true, image: null } });
    expect(ticket).toMatchObject({ status: 425, body: { ok: false, code: 'CAPTCHA_EARLY' } });
    expect(ticket.body.ticket).toBeUndefined();
  });

  it('when a ticket has gone stale, then TICKET_EXPIRED and nothing is bought', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const s = shoppers[4];
    const stale = new TicketService(Buffer.alloc(16, 7)).issue(saleId, s.id, Date.now() - 3600_000);

    expect(await buy(server.base, t.c, saleId, s, { ticket: stale })).toMatchObject({ status: 403, code: 'TICKET_EXPIRED' });
    expect(t.c.services.book.inventory.remaining(saleId)).toBe(5);
  });
});

describe('a captcha pool that runs dry', () => {
  let t: TestApp;
  let server: { base: string; close(): Promise<void> };

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it('when every ready captcha is taken and rendering fails, then 503 CAPTCHA_BUSY with Retry-After at once, never a hang', async () => {
    let drawn = 0;
    const twoThenBroken: CaptchaGenerator = {
      create: () => {
        drawn += 1;
        if (drawn > 2) throw new Error('renderer down');
        return { text: CAPTCHA_TEXT, png: PNG };
      },
    };
    t = await buildTestApp({ captcha: twoThenBroken, env: { CAPTCHA_POOL_SIZE: '2' } });
    server = await listen(t.app);
    const saleId = await createSale(t.c, { stock: 5 });
    const shoppers = await createShoppers(t.c, 3);

    const answers = [];
    for (const s of shoppers) answers.push(await post(server.base, `/api/sales/${saleId}/challenge`, s.cookie));

    expect(answers.map((a) => a.status)).toEqual([200, 200, 503]);
    expect(answers[2]).toMatchObject({ retryAfter: '1', body: { ok: false, code: 'CAPTCHA_BUSY' } });
  });
});
