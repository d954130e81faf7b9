// Hostile input (issue 6, item 2): forged login cookies, captcha guessing, forged proxy headers, cross-site
// requests, SQL and HTML injection, oversized and malformed bodies, odd ids, path traversal and the wrong
// visitor. Each gets a clear 4xx and changes nothing. Cases already proved in purchase, accounts and admin
// tests (ticket replay, ticket for another sale or shopper, CSRF on register, shopper on admin routes) are
// not repeated here.
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { CookieCipher } from '../../src/lib/CookieCipher';
import { buildTestApp, CAPTCHA_TEXT, TestApp, testDatabases } from '../helpers/buildTestApp';
import { escapeHtml, rawRequest, setCookies, sidOf, snapshot, tamperedCookies, useTestApp, visitor, Visitor } from '../helpers/hostile';
import { listen } from '../helpers/listen';
import { registrationProof } from '../helpers/proofOfWork';
import { createSale, createShoppers, Shopper, waitForOrders } from '../helpers/shoppers';

const JSON_ACCEPT = 'application/json';
const PASSWORD = 'correct horse battery';

/** A purchase request as the sale page's script sends it, answered in full so answers can be compared. */
async function purchase(base: string, saleId: number, path: string, headers: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`${base}/api/sales/${saleId}/buy/${path}`, { method: 'POST', headers });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** The answer as a visitor sees it, with the per-response CSRF token (random each time) blanked. */
function answer(res: request.Response): string {
  const body = res.text.replace(/(name="csrf-token" content=|name="_csrf" value=)"[^"]*"/g, '$1"-"');
  return `${res.status} ${res.headers['content-type']}\n${body}`;
}

describe.each(testDatabases())('hostile input on %s', (database) => {
  describe('a forged, cut, expired or foreign login cookie', () => {
    const app = useTestApp({ database });
    let shopper: Shopper;
    let saleId: number;

    beforeAll(async () => {
      saleId = await createSale(app.t.c, { stock: 5 });
      [shopper] = await createShoppers(app.t.c, 1);
    });

    function forgeries(): { name: string; value: string }[] {
      const now = Date.now();
      const ours = new CookieCipher(app.t.c.config.cookieKeys);
      const theirs = new CookieCipher([Buffer.alloc(16, 0x5a)]);
      return [
        ...tamperedCookies(sidOf(shopper.cookie)),
        { name: 'expired a moment ago', value: ours.seal({ userId: shopper.id, issuedAt: now - 7200_000, expiresAt: now - 1 }) },
        { name: 'sealed with another key', value: theirs.seal({ userId: shopper.id, issuedAt: now, expiresAt: now + 3600_000 }) },
      ];
    }

    it('when a purchase carries any of them, then each gets the same answer as no cookie at all (401 NOT_LOGGED_IN) and nothing is bought', async () => {
      const { c } = app.t;
      const path = c.services.tickets.pathFor(saleId, shopper.id);
      const ticketed = (cookie?: string) => ({
        'X-Purchase-Ticket': c.services.tickets.issue(saleId, shopper.id),
        ...(cookie === undefined ? {} : { Cookie: cookie }),
      });
      const loggedOut = await purchase(app.base, saleId, path, ticketed());

      const answers: Record<string, typeof loggedOut> = {};
      for (const f of forgeries()) answers[f.name] = await purchase(app.base, saleId, path, ticketed(`sid=${f.value}`));
      const remaining = c.services.book.inventory.remaining(saleId);
      const genuine = await purchase(app.base, saleId, path, ticketed(shopper.cookie));

      expect([loggedOut.status, loggedOut.type]).toEqual([401, 'application/json; charset=utf-8']);
      expect(JSON.parse(loggedOut.body)).toMatchObject({ ok: false, code: 'NOT_LOGGED_IN' });
      expect(Object.keys(answers).length).toBeGreaterThan(100);
      expect(Object.entries(answers).filter(([, a]) => JSON.stringify(a) !== JSON.stringify(loggedOut))).toEqual([]);
      expect(remaining).toBe(5);
      expect(genuine.status).toBe(202); // the same request with the real cookie buys
      await waitForOrders(c);
      expect((await c.repos.orders.listBySale(saleId)).map((o) => o.userId)).toEqual([shopper.id]);
    });

    it('when a page or API request carries any of them, then each gets the same answer as no cookie at all', async () => {
      const api = (cookie?: string) => {
        const r = request(app.t.app).get('/api/orders/some-request-id');
        return cookie === undefined ? r : r.set('Cookie', cookie);
      };
      const page = (cookie?: string) => {
        const r = request(app.t.app).get('/orders');
        return cookie === undefined ? r : r.set('Cookie', cookie);
      };
      const loggedOut = { api: await api(), page: await page() };

      const differing: string[] = [];
      for (const f of forgeries()) {
        if (answer(await api(`sid=${f.value}`)) !== answer(loggedOut.api)) differing.push(`api: ${f.name}`);
        if (answer(await page(`sid=${f.value}`)) !== answer(loggedOut.page)) differing.push(`page: ${f.name}`);
      }
      const genuine = { api: await api(shopper.cookie), page: await page(shopper.cookie) };

      expect(loggedOut.api.status).toBe(401);
      expect(loggedOut.api.body).toMatchObject({ ok: false, code: 'NOT_LOGGED_IN' });
      expect(loggedOut.page.status).toBe(401);
      expect(loggedOut.page.text).toContain('data-code="NOT_LOGGED_IN"');
      expect(differing).toEqual([]);
      expect(genuine.api.status).toBe(404); // logged in: the order is looked up, and there is none
      expect(genuine.page.status).toBe(200);
    });

    it('when a purchase carries a login cookie that is not even well-formed, then 401 NOT_LOGGED_IN, never a 500', async () => {
      const path = app.t.c.services.tickets.pathFor(saleId, shopper.id);
      const garbage = ['%E0%A4%A', '%', 'not-a-cookie', 'x'.repeat(4000), ''];

      const answers: Record<string, number> = {};
      for (const g of garbage) {
        const r = await purchase(app.base, saleId, path, { Cookie: `sid=${g}`, 'X-Purchase-Ticket': app.t.c.services.tickets.issue(saleId, shopper.id) });
        answers[g.slice(0, 12)] = r.status;
      }

      expect(answers).toEqual(Object.fromEntries(garbage.map((g) => [g.slice(0, 12), 401])));
    });
  });

  describe('captcha guessing', () => {
    const app = useTestApp({ database });

    async function post(v: Visitor, path: string, body?: object) {
      const r = request(app.t.app).post(path).set('Cookie', v.cookie).set('X-CSRF-Token', v.csrf).set('Accept', JSON_ACCEPT);
      return body ? r.send(body) : r.send();
    }

    it('when a captcha is guessed wrong three times, then even the right answer gets no ticket', async () => {
      const saleId = await createSale(app.t.c, { stock: 5 });
      const [s] = await createShoppers(app.t.c, 1);
      const v = await visitor(app.t.app, sidOf(s.cookie));
      const { captchaId } = (await post(v, `/api/sales/${saleId}/captcha`)).body;

      const guesses = [];
      for (const g of ['aaaaa', 'bbbbb', 'ccccc']) guesses.push((await post(v, `/api/sales/${saleId}/ticket`, { captchaId, answer: g })).body.code);
      const right = await post(v, `/api/sales/${saleId}/ticket`, { captchaId, answer: CAPTCHA_TEXT });

      expect(guesses).toEqual(['CAPTCHA_WRONG', 'CAPTCHA_WRONG', 'CAPTCHA_WRONG']);
      expect(right.status).toBe(400);
      expect(right.body).toMatchObject({ ok: false, code: 'CAPTCHA_EXPIRED' });
      expect(right.body.ticket).toBeUndefined();
    });

    it('when a captcha id is made up, then 400 and no ticket', async () => {
      const saleId = await createSale(app.t.c, { stock: 5 });
      const [s] = await createShoppers(app.t.c, 1);
      const v = await visitor(app.t.app, sidOf(s.cookie));

      const res = await post(v, `/api/sales/${saleId}/ticket`, { captchaId: 'AAAAAAAAAAAAAAAA', answer: CAPTCHA_TEXT });

      expect(res.status).toBe(400);
      expect(res.body.code).toBe('CAPTCHA_EXPIRED');
      expect(res.body.ticket).toBeUndefined();
    });
  });

  describe('CSRF token and Origin', () => {
    const app = useTestApp({ database });
    let admin: Visitor;
    let shopper: Visitor;
    let other: Visitor;
    let shopperRow: Shopper;
    let saleId: number;

    beforeAll(async () => {
      const { c } = app.t;
      const boss = await c.services.accounts.register('boss', 'Boss', PASSWORD, 'admin');
      [shopperRow] = await createShoppers(c, 1);
      admin = await visitor(app.t.app, c.services.accounts.issueSession(boss.id));
      shopper = await visitor(app.t.app, sidOf(shopperRow.cookie));
      other = await visitor(app.t.app);
      saleId = await createSale(c, { stock: 5 });
    });

    const productBody = { name: 'Forged product', description: '', image: '', price: '1.00' };
    /** What a request from another site may carry: its Origin, and the browser's own fetch metadata. */
    const CROSS_SITE: Record<string, string>[] = [
      { Origin: 'https://evil.example' },
      { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'same-origin' },
      { Origin: 'null' },
      { Origin: 'null', 'Sec-Fetch-Site': 'cross-site' },
      { Origin: 'not a url' },
    ];

    /** Every kind of state-changing Express route, with the browser allowed to use it. */
    const routes = () => [
      { who: admin, path: '/admin/products', body: productBody },
      { who: admin, path: '/admin/blacklist', body: { ip: '192.0.2.1', reason: 'forged' } },
      { who: admin, path: `/admin/sales/${saleId}/delete`, body: {} },
      { who: shopper, path: `/api/sales/${saleId}/captcha`, body: {} },
      { who: shopper, path: `/api/sales/${saleId}/ticket`, body: { captchaId: 'x', answer: CAPTCHA_TEXT } },
      { who: shopper, path: '/user/logout', body: {} },
    ];

    it('when a state-changing request has no CSRF token, then 403 CSRF and nothing changes', async () => {
      const before = await snapshot(app.t.c);

      const answers = [];
      for (const r of routes()) {
        const res = await request(app.t.app).post(r.path).set('Cookie', r.who.cookie).set('Accept', JSON_ACCEPT).send(r.body);
        answers.push({ path: r.path, status: res.status, code: res.body.code, cleared: setCookies(res).some((c) => c.startsWith('sid=;')) });
      }

      expect(answers).toEqual(routes().map((r) => ({ path: r.path, status: 403, code: 'CSRF', cleared: false })));
      expect(await snapshot(app.t.c)).toEqual(before);
    });

    it('when the CSRF token is wrong (another browser\'s, altered, empty, not text, or in the query), then 403 CSRF and nothing changes', async () => {
      const before = await snapshot(app.t.c);
      const post = (path = '/admin/products') => request(app.t.app).post(path).set('Cookie', admin.cookie).set('Accept', JSON_ACCEPT);
      const altered = admin.csrf.slice(0, -1) + (admin.csrf.endsWith('A') ? 'B' : 'A');

      const answers = [
        await post().set('X-CSRF-Token', other.csrf).send(productBody),
        await post().set('X-CSRF-Token', shopper.csrf).send(productBody),
        await post().set('X-CSRF-Token', altered).send(productBody),
        await post().set('X-CSRF-Token', '').send(productBody),
        await post().send({ ...productBody, _csrf: [admin.csrf] }),
        await post().send({ ...productBody, _csrf: { token: admin.csrf } }),
        await post().type('form').send(`name=x&price=1&_csrf=${encodeURIComponent(other.csrf)}`),
        await post(`/admin/products?_csrf=${encodeURIComponent(admin.csrf)}`).send(productBody),
        // the right token, but without the browser's CSRF cookie it was made for
        await request(app.t.app).post('/admin/products').set('Cookie', `sid=${sidOf(admin.cookie)}`).set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send(productBody),
      ].map((r) => [r.status, r.body.code]);
      const after = await snapshot(app.t.c);
      const control = await post().set('X-CSRF-Token', admin.csrf).send({ ...productBody, name: 'Real product' });

      expect(answers).toEqual(answers.map(() => [403, 'CSRF']));
      expect(after).toEqual(before);
      expect(control.status).toBe(201); // the same request with the right token goes through
    });

    it('when a state-changing request comes from another site, then 403 CROSS_SITE even with a valid token, and nothing changes', async () => {
      const before = await snapshot(app.t.c);

      const answers = [];
      for (const from of CROSS_SITE) {
        for (const r of routes()) {
          const res = await request(app.t.app)
            .post(r.path)
            .set('Cookie', r.who.cookie)
            .set('Accept', JSON_ACCEPT)
            .set(from)
            .set('X-CSRF-Token', r.who.csrf)
            .send(r.body);
          answers.push({ from, path: r.path, status: res.status, code: res.body.code });
        }
      }

      expect(answers).toEqual(answers.map((a) => ({ ...a, status: 403, code: 'CROSS_SITE' })));
      expect(answers).toHaveLength(CROSS_SITE.length * routes().length);
      expect(await snapshot(app.t.c)).toEqual(before);
    });

    it('when a purchase comes from another site with a good cookie, path and ticket, then 403 CROSS_SITE, nothing is bought and the ticket is not spent', async () => {
      const { c } = app.t;
      const sale = await createSale(c, { stock: 3 });
      const path = c.services.tickets.pathFor(sale, shopperRow.id);
      const ticket = c.services.tickets.issue(sale, shopperRow.id);
      const headers = (from: Record<string, string>) => ({ Cookie: shopperRow.cookie, 'X-Purchase-Ticket': ticket, ...from });

      const answers = [];
      for (const from of [...CROSS_SITE, { Origin: `${app.base}.evil.example` }, { Origin: 'http://127.0.0.1.evil.example' }]) {
        answers.push(await purchase(app.base, sale, path, headers(from)));
      }
      const remaining = c.services.book.inventory.remaining(sale);
      const sameSite = await purchase(app.base, sale, path, headers({ Origin: app.base }));

      expect(answers.map((a) => [a.status, JSON.parse(a.body).code])).toEqual(answers.map(() => [403, 'CROSS_SITE']));
      expect(remaining).toBe(3);
      expect(sameSite.status).toBe(202); // the very same ticket, from this site
    });
  });

  describe('SQL injection', () => {
    const app = useTestApp({ database });
    const INJECTIONS = [
      "' OR '1'='1",
      "boss'--",
      "1; DROP TABLE users; --",
      '" OR ""="',
      "1' UNION SELECT password_hash FROM users --",
      "'); DELETE FROM flash_sales; --",
    ];
    let admin: Visitor;
    let shopper: Shopper;
    let saleId: number;
    let productId: number;

    beforeAll(async () => {
      const { c } = app.t;
      const boss = await c.services.accounts.register('boss', 'Boss', PASSWORD, 'admin');
      admin = await visitor(app.t.app, c.services.accounts.issueSession(boss.id));
      [shopper] = await createShoppers(c, 1);
      saleId = await createSale(c, { stock: 5, startsInMs: 3600_000 });
      productId = (await c.services.catalog.getSale(saleId)).productId;
      await c.services.blacklist.add({ userId: null, ip: '192.0.2.250', reason: 'existing', until: null });
    });

    const json = (v: Visitor, path: string) =>
      request(app.t.app).post(path).set('Cookie', v.cookie).set('X-CSRF-Token', v.csrf).set('Accept', JSON_ACCEPT);

    it('when SQL is typed as the user name on register or login, then 400 or 401, no account, no login', async () => {
      const v = await visitor(app.t.app);
      const before = await snapshot(app.t.c);

      const registered = [];
      const loggedIn = [];
      for (const s of INJECTIONS) {
        const r = await json(v, '/user/register').send({ userName: s, nickName: 'Nick', password: PASSWORD });
        registered.push([r.status, r.body.code, Object.keys(r.body.fields ?? {})]);
        const l = await json(v, '/user/login').send({ userName: s, password: s });
        loggedIn.push([l.status, l.body.code, setCookies(l).some((c) => c.startsWith('sid='))]);
      }

      expect(registered).toEqual(INJECTIONS.map(() => [400, 'INVALID_INPUT', ['userName']]));
      expect(loggedIn).toEqual(INJECTIONS.map(() => [401, 'BAD_CREDENTIALS', false]));
      expect(await snapshot(app.t.c)).toEqual(before);
    });

    it('when SQL is typed as nick name and password, then it is stored as plain text and nothing else changes', async () => {
      const v = await visitor(app.t.app);
      const before = await snapshot(app.t.c);
      const nickName = "'); DELETE FROM users; --";
      const password = "' OR '1'='1' --";

      const res = await json(v, '/user/register').send({ userName: 'bobby_tables', nickName, password, proof: await registrationProof(app.t.app) });

      expect(res.status).toBe(201);
      const after = await snapshot(app.t.c);
      expect({ ...after, users: after.users.slice(0, -1) }).toEqual(before);
      expect(await app.t.c.services.accounts.findByUserName('bobby_tables')).toMatchObject({ nickName, role: 'shopper' });
      expect(await app.t.c.services.accounts.authenticate('bobby_tables', password)).not.toBeNull();
      expect(await app.t.c.services.accounts.authenticate('bobby_tables', "' OR '1'='1")).toBeNull();
    });

    it('when SQL is typed into the product form, then image and price are refused with 400 and name and description are stored as plain text', async () => {
      const before = await snapshot(app.t.c);

      const refused = [];
      for (const s of INJECTIONS) {
        const image = await json(admin, '/admin/products').send({ name: 'P', image: s, price: '1.00' });
        const price = await json(admin, '/admin/products').send({ name: 'P', price: s });
        refused.push([image.status, Object.keys(image.body.fields ?? {}), price.status, Object.keys(price.body.fields ?? {})]);
      }
      const unchanged = await snapshot(app.t.c);
      const stored = await json(admin, '/admin/products').send({ name: INJECTIONS[5], description: INJECTIONS[2], price: '1.00' });

      expect(refused).toEqual(INJECTIONS.map(() => [400, ['image'], 400, ['price']]));
      expect(unchanged).toEqual(before);
      expect(stored.status).toBe(201);
      expect(await app.t.c.services.catalog.getProduct(stored.body.id)).toMatchObject({ name: INJECTIONS[5], description: INJECTIONS[2] });
      const after = await snapshot(app.t.c);
      expect({ ...after, products: after.products.slice(0, -1) }).toEqual(before);
    });

    it('when SQL is typed into any field of the sale form, new or edit, then 400 names that field and nothing changes', async () => {
      const before = await snapshot(app.t.c);
      const valid = { productId: String(productId), stock: '5', price: '1.00', startsAt: '2031-05-02T10:00', endsAt: '2031-05-02T11:00' };

      const wrong: string[] = [];
      for (const field of Object.keys(valid) as (keyof typeof valid)[]) {
        for (const s of INJECTIONS) {
          for (const path of ['/admin/sales', `/admin/sales/${saleId}`]) {
            const res = await json(admin, path).send({ ...valid, [field]: s });
            if (res.status !== 400 || !Object.keys(res.body.fields ?? {}).includes(field)) wrong.push(`${path} ${field}=${s}: ${res.status}`);
          }
        }
      }

      expect(wrong).toEqual([]);
      expect(await snapshot(app.t.c)).toEqual(before);
    });

    it('when SQL is typed as user, IP or end of a blacklist entry, then 400 and nothing changes; as the reason it is stored as plain text', async () => {
      const before = await snapshot(app.t.c);

      const refused = [];
      for (const s of INJECTIONS) {
        const user = await json(admin, '/admin/blacklist').send({ user: s, reason: 'r' });
        const ip = await json(admin, '/admin/blacklist').send({ ip: s, reason: 'r' });
        const until = await json(admin, '/admin/blacklist').send({ ip: '192.0.2.9', reason: 'r', until: s });
        refused.push([user, ip, until].map((r) => [r.status, Object.keys(r.body.fields ?? {})]));
      }
      const unchanged = await snapshot(app.t.c);
      const stored = await json(admin, '/admin/blacklist').send({ ip: '192.0.2.10', reason: INJECTIONS[2] });

      expect(refused).toEqual(INJECTIONS.map(() => [[400, ['user']], [400, ['ip']], [400, ['until']]]));
      expect(unchanged).toEqual(before);
      expect(stored.status).toBe(201);
      expect((await app.t.c.services.blacklist.list()).find((e) => e.ip === '192.0.2.10')?.reason).toBe(INJECTIONS[2]);
    });

    it('when SQL is put into ids in paths, then 400 (or 404 where no route matches) and nothing changes', async () => {
      const shopperV = await visitor(app.t.app, sidOf(shopper.cookie));
      const before = await snapshot(app.t.c);
      const ids = ['1%20OR%201=1', "1'%20OR%20'1'='1", '1;DROP%20TABLE%20orders', "'%20OR%20'1'%3D'1", '1%20UNION%20SELECT%201'];
      const get = (v: Visitor | null, path: string) => {
        const r = request(app.t.app).get(path).set('Accept', JSON_ACCEPT);
        return v ? r.set('Cookie', v.cookie) : r;
      };

      const wrong: string[] = [];
      const expect400 = async (label: string, res: request.Response) => {
        if (res.status !== 400 || res.body.code !== 'INVALID_INPUT') wrong.push(`${label}: ${res.status} ${res.body.code}`);
      };
      for (const id of ids) {
        await expect400(`GET /sales/${id}`, await get(null, `/sales/${id}`));
        await expect400(`GET /api/sales/${id}`, await get(null, `/api/sales/${id}`));
        await expect400(`GET /api/sales/${id}/path`, await get(shopperV, `/api/sales/${id}/path`));
        await expect400(`GET /api/orders/${id}`, await get(shopperV, `/api/orders/${id}`));
        await expect400(`POST /api/sales/${id}/captcha`, await json(shopperV, `/api/sales/${id}/captcha`).send({}));
        await expect400(`GET /admin/products/${id}/edit`, await get(admin, `/admin/products/${id}/edit`));
        await expect400(`GET /admin/sales/${id}/orders`, await get(admin, `/admin/sales/${id}/orders`));
        await expect400(`POST /admin/products/${id}/delete`, await json(admin, `/admin/products/${id}/delete`).send({}));
        await expect400(`POST /admin/sales/${id}/delete`, await json(admin, `/admin/sales/${id}/delete`).send({}));
        await expect400(`POST /admin/blacklist/${id}/delete`, await json(admin, `/admin/blacklist/${id}/delete`).send({}));
        // not a purchase URL, so it falls through to the router, which has no such route
        const buy = await json(shopperV, `/api/sales/${id}/buy/${'x'.repeat(16)}`).send({});
        if (buy.status !== 404) wrong.push(`POST /api/sales/${id}/buy: ${buy.status}`);
      }
      // an id that passes the shape check still only finds this shopper's own order
      const shaped = await get(shopperV, '/api/orders/1-OR-1--');

      expect(wrong).toEqual([]);
      expect(shaped.status).toBe(404);
      expect(await snapshot(app.t.c)).toEqual(before);
    });

    it('when SQL is put into query parameters, then the page ignores it', async () => {
      const before = await snapshot(app.t.c);

      const newSale = await request(app.t.app).get(`/admin/sales/new?productId=${encodeURIComponent(`${productId} OR 1=1`)}`).set('Cookie', admin.cookie);
      const login = await request(app.t.app).get(`/user/login?next=${encodeURIComponent("/' OR '1'='1")}`);
      const home = await request(app.t.app).get(`/?id=${encodeURIComponent(INJECTIONS[0])}&sort=${encodeURIComponent(INJECTIONS[2])}`);

      expect(newSale.status).toBe(200);
      expect(newSale.text).not.toMatch(/<option[^>]* selected/);
      expect(login.status).toBe(200);
      expect(login.text).toMatch(/name="next" value="\/"/);
      expect(home.status).toBe(200);
      expect(await snapshot(app.t.c)).toEqual(before);
    });
  });

  describe('HTML in names', () => {
    const app = useTestApp({ database });
    const NICK = "<script>alert('nick')</script>";
    const USER_NAME = '"><svg onload=alert(1)>';
    const PRODUCT = `"><img src=x onerror=alert('product')><script>alert(1)</script>`;
    const DESCRIPTION = '<iframe src="javascript:alert(2)"></iframe>';
    const REASON = '<b onmouseover=alert(3)>bot</b>';

    /** The page shows `text`, and only escaped. */
    function expectEscaped(page: string, texts: string[], where: string): void {
      for (const text of texts) {
        expect({ where, raw: page.includes(text) }).toEqual({ where, raw: false });
        expect({ where, escaped: page.includes(escapeHtml(text)) }).toEqual({ where, escaped: true });
      }
      expect({ where, scripts: /<script>alert|<svg onload|<img src=x|<iframe|<b onmouseover/.test(page) }).toEqual({ where, scripts: false });
    }

    it('when someone registers with HTML in the user name, then 400 and no account', async () => {
      const v = await visitor(app.t.app);
      const before = await snapshot(app.t.c);

      const res = await request(app.t.app)
        .post('/user/register')
        .set('Cookie', v.cookie)
        .set('X-CSRF-Token', v.csrf)
        .set('Accept', JSON_ACCEPT)
        .send({ userName: USER_NAME, nickName: 'Nick', password: PASSWORD });

      expect(res.status).toBe(400);
      expect(Object.keys(res.body.fields)).toEqual(['userName']);
      expect(await snapshot(app.t.c)).toEqual(before);
    });

    it('when a shopper registers with HTML as nick name, then the page header shows it escaped', async () => {
      const v = await visitor(app.t.app);
      const res = await request(app.t.app)
        .post('/user/register')
        .set('Cookie', v.cookie)
        .set('X-CSRF-Token', v.csrf)
        .set('Accept', JSON_ACCEPT)
        .send({ userName: 'html_nick', nickName: NICK, password: PASSWORD, proof: await registrationProof(app.t.app) });
      const sid = /^sid=([^;]+)/.exec(setCookies(res).find((c) => c.startsWith('sid='))!)![1];

      expect(res.status).toBe(201);
      for (const path of ['/', '/orders', '/user/login']) {
        const page = await request(app.t.app).get(path).set('Cookie', `sid=${sid}`);
        expect({ path, status: page.status }).toEqual({ path, status: 200 });
        expectEscaped(page.text, [NICK], path);
      }
    });

    it('when a product name, description and user name hold HTML, then every page showing them escapes them', async () => {
      const { c } = app.t;
      const productId = await c.services.catalog.createProduct({ name: PRODUCT, description: DESCRIPTION, image: '', priceCents: 2000 });
      const now = Date.now();
      const saleId = await c.services.catalog.createSale({ productId, stock: 5, priceCents: 1000, startsAt: new Date(now - 1000), endsAt: new Date(now + 3600_000) });
      // Registration refuses such a user name; one may still come from older data or another tool.
      const [userId] = await c.repos.users.createMany([{ userName: USER_NAME, nickName: NICK, passwordHash: 'x', role: 'shopper' }]);
      const boss = await c.services.accounts.register('boss', 'Boss', PASSWORD, 'admin');
      await c.repos.orders.writeBatch([{ requestId: 'aaaaaaaa-0000-4000-8000-000000000001', saleId, userId, at: now }]);
      await c.services.blacklist.add({ userId, ip: null, reason: REASON, until: null });
      const as = (id: number) => `sid=${c.services.accounts.issueSession(id)}`;
      const pages: { path: string; cookie: string; shows: string[] }[] = [
        { path: '/', cookie: as(userId), shows: [PRODUCT, NICK, USER_NAME] },
        // the sale page may leave the header to its script; whatever it shows must be escaped
        { path: `/sales/${saleId}`, cookie: as(userId), shows: [PRODUCT, DESCRIPTION] },
        { path: '/orders', cookie: as(userId), shows: [PRODUCT, NICK, USER_NAME] },
        { path: '/admin/sales', cookie: as(boss.id), shows: [PRODUCT] },
        { path: `/admin/sales/${saleId}/orders`, cookie: as(boss.id), shows: [PRODUCT] },
        { path: `/admin/sales/${saleId}/edit`, cookie: as(boss.id), shows: [PRODUCT] },
        { path: '/admin/sales/new', cookie: as(boss.id), shows: [PRODUCT] },
        { path: '/admin/products', cookie: as(boss.id), shows: [PRODUCT] },
        { path: '/admin/blacklist', cookie: as(boss.id), shows: [USER_NAME, REASON] },
      ];

      for (const p of pages) {
        const res = await request(app.t.app).get(p.path).set('Cookie', p.cookie);
        expect({ path: p.path, status: res.status }).toEqual({ path: p.path, status: 200 });
        expectEscaped(res.text, p.shows, p.path);
      }
    });
  });

  describe('bodies and ids', () => {
    const app = useTestApp({ database });
    let admin: Visitor;
    let shopper: Visitor;
    let saleId: number;

    beforeAll(async () => {
      const { c } = app.t;
      const boss = await c.services.accounts.register('boss', 'Boss', PASSWORD, 'admin');
      admin = await visitor(app.t.app, c.services.accounts.issueSession(boss.id));
      const [s] = await createShoppers(c, 1);
      shopper = await visitor(app.t.app, sidOf(s.cookie));
      saleId = await createSale(c, { stock: 5 });
    });

    const post = (v: Visitor, path: string) =>
      request(app.t.app).post(path).set('Cookie', v.cookie).set('X-CSRF-Token', v.csrf).set('Accept', JSON_ACCEPT);

    it('when a body is over 16 kB (JSON, form or gzipped), then 413 BODY_TOO_LARGE and nothing is created', async () => {
      const v = await visitor(app.t.app);
      const before = await snapshot(app.t.c);
      const big = 'x'.repeat(17 * 1024);
      const bomb = gzipSync(JSON.stringify({ name: 'P', price: '1.00', description: ' '.repeat(1024 * 1024) }));

      const answers = [
        await post(v, '/user/register').send({ userName: 'big_body', nickName: big, password: PASSWORD }),
        await post(v, '/user/register').type('form').send(`userName=big_form&nickName=${big}&password=${encodeURIComponent(PASSWORD)}`),
        await post(admin, '/admin/products').send({ name: 'P', price: '1.00', description: big }),
        await post(shopper, `/api/sales/${saleId}/ticket`).send({ captchaId: big, answer: 'x' }),
      ].map((r) => [r.status, r.body.code]);
      // 1 kB on the wire, 1 MB once inflated (sent with fetch: supertest would re-encode the buffer)
      const inflated = await fetch(`${app.base}/admin/products`, {
        method: 'POST',
        headers: { Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf, Accept: JSON_ACCEPT, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
        body: bomb,
      });
      answers.push([inflated.status, ((await inflated.json()) as { code: string }).code]);
      const page = await request(app.t.app).post('/user/register').set('Cookie', v.cookie).type('form').send(`nickName=${big}`);

      expect(answers).toEqual(answers.map(() => [413, 'BODY_TOO_LARGE']));
      expect(page.status).toBe(413);
      expect(await snapshot(app.t.c)).toEqual(before);
    });

    it('when a JSON body is malformed, then 400 MALFORMED_BODY and nothing changes', async () => {
      const before = await snapshot(app.t.c);
      const bodies = ['{"userName":', '{bad json}', '"just a string"', 'nul', '{"a":1}}', '\u0000'];

      const answers = [];
      for (const body of bodies) {
        for (const [v, path] of [[shopper, '/user/login'], [shopper, `/api/sales/${saleId}/ticket`], [admin, '/admin/products']] as const) {
          const res = await post(v, path).set('Content-Type', 'application/json').send(body);
          answers.push({ body, path, status: res.status, code: res.body.code });
        }
      }

      expect(answers).toEqual(answers.map((a) => ({ ...a, status: 400, code: 'MALFORMED_BODY' })));
      expect(await snapshot(app.t.c)).toEqual(before);
    });

    /** The id routes that parse an id from the path, each with an allowed visitor. */
    async function idAnswers(id: string): Promise<[string, request.Response][]> {
      const get = (v: Visitor | null, path: string) => {
        const r = request(app.t.app).get(path).set('Accept', JSON_ACCEPT);
        return v ? r.set('Cookie', v.cookie) : r;
      };
      return [
        [`GET /sales/${id}`, await get(null, `/sales/${id}`)],
        [`GET /api/sales/${id}`, await get(null, `/api/sales/${id}`)],
        [`GET /api/sales/${id}/path`, await get(shopper, `/api/sales/${id}/path`)],
        [`POST /api/sales/${id}/captcha`, await post(shopper, `/api/sales/${id}/captcha`).send({})],
        [`GET /admin/products/${id}/edit`, await get(admin, `/admin/products/${id}/edit`)],
        [`GET /admin/sales/${id}/orders`, await get(admin, `/admin/sales/${id}/orders`)],
        [`POST /admin/blacklist/${id}/delete`, await post(admin, `/admin/blacklist/${id}/delete`).send({})],
      ];
    }

    it('when an id is not a positive whole number, then 400 INVALID_INPUT', async () => {
      const wrong: string[] = [];
      for (const id of ['abc', '0', '-1', '1.5', '99999999999', 'Infinity', 'NaN', '1n', '%00']) {
        for (const [label, res] of await idAnswers(id)) {
          if (res.status !== 400 || res.body.code !== 'INVALID_INPUT') wrong.push(`${label}: ${res.status} ${res.body.code}`);
        }
      }

      expect(wrong).toEqual([]);
    });

    it('when an id is written other than in plain digits (0x1, 1e0, 0b1, a space), then 400 INVALID_INPUT, as on the purchase route', async () => {
      const wrong: string[] = [];
      for (const id of ['0x1', '1e0', '0b1', '%201', '1%20']) {
        for (const [label, res] of await idAnswers(id)) {
          if (res.status !== 400 || res.body.code !== 'INVALID_INPUT') wrong.push(`${label}: ${res.status} ${res.body.code}`);
        }
      }
      const buy = await request(app.t.app).post(`/api/sales/0x1/buy/${'x'.repeat(16)}`).set('Cookie', shopper.cookie).set('X-CSRF-Token', shopper.csrf);

      expect(buy.status).toBe(404); // the purchase route takes digits only; the rest falls through to no route
      expect(wrong).toEqual([]);
    });

    it('when an id names nothing, then 404', async () => {
      const unknown = 987654;
      const get = (v: Visitor | null, path: string) => {
        const r = request(app.t.app).get(path).set('Accept', JSON_ACCEPT);
        return v ? r.set('Cookie', v.cookie) : r;
      };

      const answers = {
        page: (await request(app.t.app).get(`/sales/${unknown}`)).status,
        state: (await get(null, `/api/sales/${unknown}`)).status,
        path: (await get(shopper, `/api/sales/${unknown}/path`)).status,
        captcha: (await post(shopper, `/api/sales/${unknown}/captcha`).send({})).status,
        ticket: (await post(shopper, `/api/sales/${unknown}/ticket`).send({ captchaId: 'x', answer: 'y' })).status,
        order: (await get(shopper, '/api/orders/00000000-0000-4000-8000-000000000000')).status,
        saleOrders: (await get(admin, `/admin/sales/${unknown}/orders`)).status,
        editSale: (await get(admin, `/admin/sales/${unknown}/edit`)).status,
        deleteSale: (await post(admin, `/admin/sales/${unknown}/delete`).send({})).status,
        deleteProduct: (await post(admin, `/admin/products/${unknown}/delete`).send({})).status,
      };

      expect(answers).toEqual(Object.fromEntries(Object.keys(answers).map((k) => [k, 404])));
    });
  });

  describe('a logged-out visitor on the purchase routes', () => {
    const app = useTestApp({ database });

    it('when a logged-out visitor with a valid CSRF token asks for the path, a captcha, a ticket or an order status, then 401 NOT_LOGGED_IN and nothing is handed out', async () => {
      const { c } = app.t;
      const saleId = await createSale(c, { stock: 5 });
      const [buyer] = await createShoppers(c, 1);
      const requestId = 'bbbbbbbb-0000-4000-8000-000000000002';
      await c.repos.orders.writeBatch([{ requestId, saleId, userId: buyer.id, at: Date.now() }]);
      const v = await visitor(app.t.app);
      const post = (path: string, body: object) =>
        request(app.t.app).post(path).set('Cookie', v.cookie).set('X-CSRF-Token', v.csrf).set('Accept', JSON_ACCEPT).send(body);

      const answers = [
        await request(app.t.app).get(`/api/sales/${saleId}/path`).set('Cookie', v.cookie),
        await post(`/api/sales/${saleId}/captcha`, {}),
        await post(`/api/sales/${saleId}/ticket`, { captchaId: 'x', answer: CAPTCHA_TEXT }),
        await request(app.t.app).get(`/api/orders/${requestId}`).set('Cookie', v.cookie),
      ];

      for (const res of answers) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ ok: false, code: 'NOT_LOGGED_IN', message: 'Please log in first.' });
      }
    });
  });
});

describe.each([
  // No proxy: the client talks to us and writes whatever it likes into the header.
  { trustProxy: 'false', real: '127.0.0.1', forwarded: (fake: string) => fake },
  // One proxy in front: it appends the address it saw, so only the last entry is true.
  { trustProxy: '1', real: '203.0.113.7', forwarded: (fake: string) => `${fake}, 203.0.113.7` },
])('forged X-Forwarded-For with TRUST_PROXY=$trustProxy', ({ trustProxy, real, forwarded }) => {
  let t: TestApp;
  let server: { base: string; close(): Promise<void> };
  const fakes = Array.from({ length: 40 }, (_, i) => `10.${i}.${(i * 7) % 256}.${(i * 13) % 256}`);

  beforeEach(async () => {
    t = await buildTestApp({ env: { TRUST_PROXY: trustProxy, IP_LIMIT: '5', IP_WINDOW_MS: '600000' } });
    server = await listen(t.app);
  });

  afterEach(async () => {
    await server.close();
    await t.close();
  });

  it('when each purchase claims another address, then the sixth from the same real address is 429 IP_RATE_LIMITED', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${server.base}/api/sales/1/buy/${'x'.repeat(16)}`, { method: 'POST', headers: { 'X-Forwarded-For': forwarded(fakes[i]) } });
      statuses.push({ status: res.status, code: ((await res.json()) as { code: string }).code, retryAfter: res.headers.get('retry-after') });
    }

    expect(statuses.slice(0, 5).map((s) => s.code)).toEqual(new Array(5).fill('NOT_LOGGED_IN'));
    expect(statuses[5]).toMatchObject({ status: 429, code: 'IP_RATE_LIMITED' });
    expect(Number(statuses[5].retryAfter)).toBeGreaterThan(0);
    if (trustProxy === '1') {
      // another real client behind the same proxy, claiming to be the first one, is counted as itself
      const other = await fetch(`${server.base}/api/sales/1/buy/${'x'.repeat(16)}`, { method: 'POST', headers: { 'X-Forwarded-For': `${real}, 198.51.100.20` } });
      expect(other.status).toBe(401);
    }
  });

  it('when a blacklisted address claims another one, then its purchase is still 403 BLOCKED and nothing is bought', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const [s] = await createShoppers(t.c, 1);
    await t.c.services.blacklist.add({ userId: null, ip: real, reason: 'bot farm', until: null });

    const res = await purchase(server.base, saleId, t.c.services.tickets.pathFor(saleId, s.id), {
      Cookie: s.cookie,
      'X-Purchase-Ticket': t.c.services.tickets.issue(saleId, s.id),
      'X-Forwarded-For': forwarded('198.51.100.99'),
    });

    expect([res.status, JSON.parse(res.body).code]).toEqual([403, 'BLOCKED']);
    expect(t.c.services.book.inventory.remaining(saleId)).toBe(5);
  });

  it('when each captcha request claims another address, then the sixth from the same real address is 429 IP_RATE_LIMITED', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const [s] = await createShoppers(t.c, 1);
    const v = await visitor(t.app, sidOf(s.cookie));

    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const res = await request(t.app)
        .post(`/api/sales/${saleId}/captcha`)
        .set('Cookie', v.cookie)
        .set('X-CSRF-Token', v.csrf)
        .set('X-Forwarded-For', forwarded(fakes[i]))
        .send({});
      statuses.push([res.status, res.body.code]);
    }

    expect(statuses.slice(0, 5)).toEqual(new Array(5).fill([200, undefined]));
    expect(statuses[5]).toEqual([429, 'IP_RATE_LIMITED']);
  });

  it('when each failed login claims another address, then the 31st from the same real address is 429 TOO_MANY_LOGINS', async () => {
    const v = await visitor(t.app);

    const statuses = [];
    for (let i = 0; i < 31; i++) {
      const res = await request(t.app)
        .post('/user/login')
        .set('Cookie', v.cookie)
        .set('X-CSRF-Token', v.csrf)
        .set('Accept', JSON_ACCEPT)
        .set('X-Forwarded-For', forwarded(fakes[i]))
        .send({ userName: `guess_${i}`, password: 'wrong password' });
      statuses.push(res.status);
    }

    expect(statuses.slice(0, 30)).toEqual(new Array(30).fill(401));
    expect(statuses[30]).toBe(429);
  });
});

describe('path traversal on static files', () => {
  let t: TestApp;
  let server: { base: string; close(): Promise<void> };

  beforeAll(async () => {
    t = await buildTestApp();
    server = await listen(t.app);
  });

  afterAll(async () => {
    await server.close();
    await t.close();
  });

  const attempts = [
    { path: '/css/../../package.json', secret: '"name": "flash-sale"' },
    { path: '/css/../package.json', secret: '"name": "flash-sale"' },
    { path: '/%2e%2e/%2e%2e/etc/passwd', secret: 'root:' },
    { path: '/css/%2e%2e/%2e%2e/etc/passwd', secret: 'root:' },
    { path: '/js/..%2f..%2fsrc/app.ts', secret: 'createExpressApp' },
    { path: '/js/%2e%2e%2f%2e%2e%2fsrc%2fapp.ts', secret: 'createExpressApp' },
    { path: '/js/..%5c..%5csrc%5capp.ts', secret: 'createExpressApp' },
    { path: '/css/..%252f..%252fpackage.json', secret: '"name": "flash-sale"' },
    { path: '/img/....//....//package.json', secret: '"name": "flash-sale"' },
    { path: '/css/site.css/../../../package.json', secret: '"name": "flash-sale"' },
    { path: '//etc/passwd', secret: 'root:' },
    { path: '/js/..%00/../package.json', secret: '"name": "flash-sale"' },
    { path: '/.git/config', secret: '[core]' },
    { path: '/css/../../.git/config', secret: '[core]' },
    { path: '/../tsconfig.json', secret: 'compilerOptions' },
  ];

  it('when a static path climbs out of public/, then 404 and never the file', async () => {
    const answers = [];
    for (const a of attempts) {
      const res = await rawRequest(server.base, a.path);
      answers.push({ path: a.path, status: res.status, leaked: res.body.includes(a.secret) });
    }
    const css = await rawRequest(server.base, '/css/site.css');

    expect(answers).toEqual(attempts.map((a) => ({ path: a.path, status: 404, leaked: false })));
    expect(css.status).toBe(200); // the static files themselves are served
  });
});
