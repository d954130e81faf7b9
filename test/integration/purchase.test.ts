// The purchase funnel end to end: HTTP request -> gates -> queue -> consumer -> order rows.
import { buildTestApp, CAPTCHA_TEXT, TestApp, testBackends } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, createSale, createShoppers, waitForOrders } from '../helpers/shoppers';

describe.each(testBackends())('purchase funnel on $database + $queue', (backend) => {
  let t: TestApp;
  let server: { base: string; close(): Promise<void> };

  beforeEach(async () => {
    t = await buildTestApp(backend);
    server = await listen(t.app);
  });

  afterEach(async () => {
    await server.close();
    await t.close();
  });

  async function saleRow(saleId: number) {
    return (await t.c.repos.sales.findById(saleId))!;
  }

  it('when 500 distinct shoppers buy a stock of 50 at once, then exactly 50 are accepted and written', async () => {
    const saleId = await createSale(t.c, { stock: 50 });
    const shoppers = await createShoppers(t.c, 500);

    const results = await Promise.all(shoppers.map((s) => buy(server.base, t.c, saleId, s)));
    await waitForOrders(t.c);

    const accepted = results.filter((r) => r.status === 202);
    const soldOut = results.filter((r) => r.code === 'SOLD_OUT');
    expect(accepted).toHaveLength(50);
    expect(soldOut).toHaveLength(450);
    expect(soldOut.every((r) => r.status === 410)).toBe(true);
    const orders = await t.c.repos.orders.listBySale(saleId);
    expect(orders).toHaveLength(50);
    expect(new Set(orders.map((o) => o.userId)).size).toBe(50);
    expect(new Set(orders.map((o) => o.requestId))).toEqual(new Set(accepted.map((r) => r.requestId)));
    const sale = await saleRow(saleId);
    expect(sale.remaining).toBe(0);
  });

  it('when one shopper fires 50 purchases at once, then one order is written', async () => {
    const saleId = await createSale(t.c, { stock: 10 });
    const [shopper] = await createShoppers(t.c, 1);

    const results = await Promise.all(Array.from({ length: 50 }, () => buy(server.base, t.c, saleId, shopper)));
    await waitForOrders(t.c);

    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(results.every((r) => r.status === 202 || ['IN_FLIGHT', 'ALREADY_BOUGHT'].includes(r.code))).toBe(true);
    expect(await t.c.repos.orders.listBySale(saleId)).toHaveLength(1);
    expect((await saleRow(saleId)).remaining).toBe(9);
  });

  it('when an order is accepted, then its status goes from pending to confirmed', async () => {
    const saleId = await createSale(t.c, { stock: 1 });
    const [shopper] = await createShoppers(t.c, 1);
    await t.c.writer.pause();

    const r = await buy(server.base, t.c, saleId, shopper);
    const pending = await fetch(`${server.base}/api/orders/${r.requestId}`, { headers: { Cookie: shopper.cookie } });
    expect(await pending.json()).toMatchObject({ status: 'pending', saleId });

    await t.c.writer.start();
    await waitForOrders(t.c);
    const confirmed = await fetch(`${server.base}/api/orders/${r.requestId}`, { headers: { Cookie: shopper.cookie } });
    expect(await confirmed.json()).toMatchObject({ status: 'confirmed', saleId });
    const other = (await createShoppers(t.c, 1))[0];
    const foreign = await fetch(`${server.base}/api/orders/${r.requestId}`, { headers: { Cookie: other.cookie } });
    expect(foreign.status).toBe(404);
  });

  describe('each gate refuses with its code', () => {
    it('when no login cookie is sent, then 401 NOT_LOGGED_IN', async () => {
      const saleId = await createSale(t.c, { stock: 5 });
      const [s] = await createShoppers(t.c, 1);
      const r = await buy(server.base, t.c, saleId, s, { cookie: null });
      expect([r.status, r.code]).toEqual([401, 'NOT_LOGGED_IN']);
    });

    it('when the sale does not exist, then 404 SALE_NOT_FOUND', async () => {
      const [s] = await createShoppers(t.c, 1);
      const r = await buy(server.base, t.c, 99999, s);
      expect([r.status, r.code]).toEqual([404, 'SALE_NOT_FOUND']);
    });

    it('when the sale has not started, then 403 NOT_STARTED', async () => {
      const saleId = await createSale(t.c, { stock: 5, startsInMs: 60_000 });
      const [s] = await createShoppers(t.c, 1);
      const r = await buy(server.base, t.c, saleId, s);
      expect([r.status, r.code]).toEqual([403, 'NOT_STARTED']);
    });

    it('when the sale has ended, then 410 SALE_ENDED', async () => {
      const saleId = await createSale(t.c, { stock: 5, startsInMs: -10_000, durationMs: 5_000 });
      const [s] = await createShoppers(t.c, 1);
      const r = await buy(server.base, t.c, saleId, s);
      expect([r.status, r.code]).toEqual([410, 'SALE_ENDED']);
    });

    it('when the shopper or the IP is blacklisted, then 403 BLOCKED', async () => {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a, b] = await createShoppers(t.c, 2);
      await t.c.services.blacklist.add({ userId: a.id, ip: null, reason: 'bot', until: null });
      expect((await buy(server.base, t.c, saleId, a)).code).toBe('BLOCKED');
      expect((await buy(server.base, t.c, saleId, b)).status).toBe(202);
      await t.c.services.blacklist.add({ userId: null, ip: '127.0.0.1', reason: 'bot farm', until: null });
      const [c2] = await createShoppers(t.c, 1);
      const r = await buy(server.base, t.c, saleId, c2);
      expect([r.status, r.code]).toEqual([403, 'BLOCKED']);
    });

    it('when the secret path is wrong, then 404 PATH_INVALID and no unit is taken', async () => {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a, b] = await createShoppers(t.c, 2);
      const r = await buy(server.base, t.c, saleId, a, { path: t.c.services.tickets.pathFor(saleId, b.id) });
      expect([r.status, r.code]).toEqual([404, 'PATH_INVALID']);
      expect(t.c.services.book.inventory.remaining(saleId)).toBe(5);
    });

    it('when the ticket is missing, forged, for another sale or another shopper, then 403 TICKET_INVALID', async () => {
      const saleId = await createSale(t.c, { stock: 5 });
      const otherSale = await createSale(t.c, { stock: 5 });
      const [a, b] = await createShoppers(t.c, 2);
      const tickets = t.c.services.tickets;
      const forged = tickets.issue(saleId, a.id).slice(0, -2) + 'AA';
      for (const ticket of ['', forged, tickets.issue(otherSale, a.id), tickets.issue(saleId, b.id)]) {
        const r = await buy(server.base, t.c, saleId, a, { ticket });
        expect([r.status, r.code]).toEqual([403, 'TICKET_INVALID']);
      }
      expect(t.c.services.book.inventory.remaining(saleId)).toBe(5);
    });

    it('when a ticket is used twice, then the second use is 403 TICKET_USED', async () => {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a] = await createShoppers(t.c, 1);
      const ticket = t.c.services.tickets.issue(saleId, a.id);
      const wrongPath = await buy(server.base, t.c, saleId, a, { ticket, path: 'x'.repeat(16) });
      expect(wrongPath.code).toBe('PATH_INVALID');
      expect((await buy(server.base, t.c, saleId, a, { ticket })).status).toBe(202);
      await waitForOrders(t.c);
      t.c.services.book.inventory.release(saleId, a.id); // pretend the first never happened in memory
      const again = await buy(server.base, t.c, saleId, a, { ticket });
      expect([again.status, again.code]).toEqual([403, 'TICKET_USED']);
    });

    it('when a shopper has bought, then a second try is 409 ALREADY_BOUGHT', async () => {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a] = await createShoppers(t.c, 1);
      expect((await buy(server.base, t.c, saleId, a)).status).toBe(202);
      const r = await buy(server.base, t.c, saleId, a);
      expect([r.status, r.code]).toEqual([409, 'ALREADY_BOUGHT']);
    });

    it('when the stock is gone, then 410 SOLD_OUT', async () => {
      const saleId = await createSale(t.c, { stock: 1 });
      const [a, b] = await createShoppers(t.c, 2);
      expect((await buy(server.base, t.c, saleId, a)).status).toBe(202);
      const r = await buy(server.base, t.c, saleId, b);
      expect([r.status, r.code]).toEqual([410, 'SOLD_OUT']);
    });
  });

  describe('captcha and ticket over HTTP', () => {
    async function post(path: string, cookie: string, body?: unknown) {
      // A page visit gives the CSRF cookie and token the sale page's script uses.
      const page = await fetch(`${server.base}/`, { headers: { Cookie: cookie } });
      const csrfCookie = page.headers.getSetCookie().find((c) => c.startsWith('csrf='))!.split(';')[0];
      const token = /name="csrf-token" content="([^"]+)"/.exec(await page.text())![1];
      const res = await fetch(`${server.base}${path}`, {
        method: 'POST',
        headers: { Cookie: `${cookie}; ${csrfCookie}`, 'X-CSRF-Token': token, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    }

    it('when the captcha is answered right, then it gives one ticket, and the same answer again is refused', async () => {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a] = await createShoppers(t.c, 1);
      const captcha = await post(`/api/sales/${saleId}/captcha`, a.cookie);
      expect(captcha.status).toBe(200);

      const first = await post(`/api/sales/${saleId}/ticket`, a.cookie, { captchaId: captcha.body.captchaId, answer: CAPTCHA_TEXT.toUpperCase() });
      const second = await post(`/api/sales/${saleId}/ticket`, a.cookie, { captchaId: captcha.body.captchaId, answer: CAPTCHA_TEXT });

      expect(first.status).toBe(200);
      expect(second).toMatchObject({ status: 400, body: { code: 'CAPTCHA_EXPIRED' } });
      const r = await buy(server.base, t.c, saleId, a, { ticket: first.body.ticket });
      expect(r.status).toBe(202);
    });

    it('when the captcha is answered wrong or by another shopper, then no ticket', async () => {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a, b] = await createShoppers(t.c, 2);
      const captcha = await post(`/api/sales/${saleId}/captcha`, a.cookie);
      const wrong = await post(`/api/sales/${saleId}/ticket`, a.cookie, { captchaId: captcha.body.captchaId, answer: 'nope' });
      const foreign = await post(`/api/sales/${saleId}/ticket`, b.cookie, { captchaId: captcha.body.captchaId, answer: CAPTCHA_TEXT });
      expect(wrong).toMatchObject({ status: 400, body: { code: 'CAPTCHA_WRONG' } });
      expect(foreign).toMatchObject({ status: 400, body: { code: 'CAPTCHA_EXPIRED' } });
      expect(foreign.body.ticket).toBeUndefined();
    });

    it('when the route answers, then each answer has a JSON type, its exact length and no-store', async () => {
      const saleId = await createSale(t.c, { stock: 1 });
      const [a, b] = await createShoppers(t.c, 2);
      const send = async (s: typeof a) => {
        const res = await fetch(`${server.base}/api/sales/${saleId}/buy/${t.c.services.tickets.pathFor(saleId, s.id)}`, {
          method: 'POST',
          headers: { Cookie: s.cookie, 'X-Purchase-Ticket': t.c.services.tickets.issue(saleId, s.id) },
        });
        const text = await res.text();
        return { res, text, body: JSON.parse(text) as { code: string; requestId?: string } };
      };

      const accepted = await send(a);
      const soldOut = await send(b);
      await waitForOrders(t.c);

      expect([accepted.res.status, accepted.body.code]).toEqual([202, 'ACCEPTED']);
      expect(accepted.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect([soldOut.res.status, soldOut.body.code]).toEqual([410, 'SOLD_OUT']);
      for (const { res, text } of [accepted, soldOut]) {
        expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.headers.get('retry-after')).toBeNull();
      }
    });

    it('when the sale has not started, then the secret path is not handed out', async () => {
      const saleId = await createSale(t.c, { stock: 5, startsInMs: 60_000 });
      const [a] = await createShoppers(t.c, 1);
      const res = await fetch(`${server.base}/api/sales/${saleId}/path`, { headers: { Cookie: a.cookie } });
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain('/buy/');
    });
  });
});

describe('per-shopper pacing', () => {
  it('when a shopper tries again within the interval, then 429 TOO_FAST with Retry-After', async () => {
    const t = await buildTestApp({ env: { USER_INTERVAL_MS: '10000' } });
    const server = await listen(t.app);
    try {
      const saleId = await createSale(t.c, { stock: 5 });
      const [a] = await createShoppers(t.c, 1);
      const first = await buy(server.base, t.c, saleId, a, { path: 'x'.repeat(16) });
      const second = await buy(server.base, t.c, saleId, a);
      expect(first.code).toBe('PATH_INVALID');
      expect([second.status, second.code]).toEqual([429, 'TOO_FAST']);
      expect(Number(second.retryAfter)).toBeGreaterThanOrEqual(9);
    } finally {
      await server.close();
      await t.close();
    }
  });
});
