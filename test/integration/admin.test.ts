// Admin pages over HTTP on a real database: products, sales, orders per sale, blacklist, and who may use them.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApp } from '../../src/app';
import { AdminController } from '../../src/controllers/AdminController';
import { routes } from '../../src/routes';
import { buildTestApp, testDatabases, TestApp } from '../helpers/buildTestApp';

type Agent = ReturnType<typeof request.agent>;
type App = Parameters<typeof request>[0];

const PASSWORD = 'correct horse battery';
const JSON_ACCEPT = 'application/json';
const HOUR = 3600_000;

function csrfFrom(html: string): string {
  const m = /<meta name="csrf-token" content="([^"]+)">/.exec(html) ?? /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1];
}

/** A browser that has opened the login page and, given a user, logged in. */
async function browser(app: App, userName?: string): Promise<{ agent: Agent; csrf: string }> {
  const agent = request.agent(app);
  const page = await agent.get('/user/login').expect(200);
  const csrf = csrfFrom(page.text);
  if (userName) {
    await agent.post('/user/login').type('form').send({ _csrf: csrf, userName, password: PASSWORD }).expect(303);
  }
  return { agent, csrf };
}

/** The value of the input named `name` in a form page. */
function inputValue(html: string, name: string): string | undefined {
  const m = new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(html);
  return m?.[1];
}

describe.each(testDatabases())('admin pages on %s', (database) => {
  let t: TestApp;
  let admin: { agent: Agent; csrf: string };
  let shopper: { agent: Agent; csrf: string };
  let shopperId: number;
  let n = 0;
  const unique = (prefix: string) => `${prefix} ${++n}`;

  beforeAll(async () => {
    t = await buildTestApp({ database });
    await t.c.services.accounts.register('boss', 'Boss', PASSWORD, 'admin');
    shopperId = (await t.c.services.accounts.register('shopper1', 'Shopper', PASSWORD)).id;
    admin = await browser(t.app, 'boss');
    shopper = await browser(t.app, 'shopper1');
  });

  afterAll(async () => {
    await t?.close();
  });

  const catalog = () => t.c.services.catalog;

  async function aProduct(priceCents = 1000): Promise<number> {
    return catalog().createProduct({ name: unique('Product'), description: '', image: '', priceCents });
  }

  async function aSale(opts: { startsIn: number; endsIn: number; stock?: number; priceCents?: number }): Promise<number> {
    const now = Date.now();
    return catalog().createSale({
      productId: await aProduct(),
      stock: opts.stock ?? 10,
      priceCents: opts.priceCents ?? 500,
      startsAt: new Date(now + opts.startsIn),
      endsAt: new Date(now + opts.endsIn),
    });
  }

  describe('dashboard', () => {
    it('when an admin opens /admin, then it links every section and shows the counts', async () => {
      await aSale({ startsIn: -60_000, endsIn: HOUR });
      await t.c.services.blacklist.add({ userId: null, ip: '203.0.113.9', reason: 'bot', until: null });
      const [products, sales, entries] = await Promise.all([catalog().listProducts(), catalog().listSales(), t.c.services.blacklist.list()]);

      const res = await admin.agent.get('/admin').expect(200);

      for (const href of ['/admin/products', '/admin/sales', '/admin/blacklist']) expect(res.text).toContain(`href="${href}"`);
      expect(res.text).toContain(`data-count="products">${products.length}<`);
      expect(res.text).toContain(`data-count="sales">${sales.length}<`);
      expect(res.text).toContain(`data-count="live">${sales.filter((s) => s.phase === 'live').length}<`);
      expect(res.text).toContain(`data-count="blacklisted">${entries.length}<`);
      expect(products.length).toBeGreaterThan(0);
    });
  });

  describe('products', () => {
    it('when an admin creates a product with a price in dollars, then it is stored in cents and listed', async () => {
      const name = unique('Phone');

      const res = await admin.agent
        .post('/admin/products')
        .type('form')
        .send({ _csrf: admin.csrf, name, description: 'A phone', image: '/img/phone.svg', price: '19.99' });

      expect(res.status).toBe(303);
      const created = (await catalog().listProducts()).find((p) => p.name === name);
      expect(res.headers.location).toBe(`/admin/products?done=product-created&id=${created?.id}`);
      expect(created).toMatchObject({ description: 'A phone', image: '/img/phone.svg', priceCents: 1999 });
      const list = await admin.agent.get('/admin/products').expect(200);
      expect(list.text).toContain(name);
      expect(list.text).toContain('$19.99');
    });

    it('when a JSON client creates a product, then it gets 201 and the new id', async () => {
      const name = unique('Tablet');

      const res = await admin.agent
        .post('/admin/products')
        .set('Accept', JSON_ACCEPT)
        .set('X-CSRF-Token', admin.csrf)
        .send({ name, price: 250.5 });

      expect(res.status).toBe(201);
      expect(res.body).toEqual({ ok: true, id: expect.any(Number) });
      expect(await catalog().getProduct(res.body.id)).toMatchObject({ name, priceCents: 25050, description: '', image: '' });
    });

    it('when an admin edits a product, then the form shows its values and the new ones are saved', async () => {
      const id = await aProduct(1250);

      const form = await admin.agent.get(`/admin/products/${id}/edit`).expect(200);
      const res = await admin.agent
        .post(`/admin/products/${id}`)
        .type('form')
        .send({ _csrf: admin.csrf, name: 'Renamed', description: 'New text', image: '', price: '7' });

      expect(inputValue(form.text, 'price')).toBe('12.50');
      expect(res.status).toBe(303);
      expect(await catalog().getProduct(id)).toMatchObject({ name: 'Renamed', description: 'New text', priceCents: 700 });
    });

    it('when an admin deletes a product without sales, then it is gone', async () => {
      const id = await aProduct();

      const res = await admin.agent.post(`/admin/products/${id}/delete`).type('form').send({ _csrf: admin.csrf });

      expect(res.status).toBe(303);
      await expect(catalog().getProduct(id)).rejects.toMatchObject({ status: 404 });
    });

    it('when an admin deletes a product that has sales, then 409 says why and the product stays', async () => {
      const saleId = await aSale({ startsIn: HOUR, endsIn: 2 * HOUR });
      const { productId } = await catalog().getSale(saleId);

      const html = await admin.agent.post(`/admin/products/${productId}/delete`).type('form').send({ _csrf: admin.csrf });
      const json = await admin.agent
        .post(`/admin/products/${productId}/delete`)
        .set('Accept', JSON_ACCEPT)
        .set('X-CSRF-Token', admin.csrf)
        .send({});

      expect(html.status).toBe(409);
      expect(html.text).toContain('Delete the sales of this product first.');
      expect(html.text).toContain(`href="/admin/products/${productId}/delete"`); // the list again, not an error page
      expect(json.status).toBe(409);
      expect(json.body).toMatchObject({ ok: false, code: 'PRODUCT_HAS_SALES' });
      await expect(catalog().getProduct(productId)).resolves.toMatchObject({ id: productId });
    });

    it('when the product form has a bad price and no name, then 400 shows each error next to its field', async () => {
      const before = (await catalog().listProducts()).length;

      const res = await admin.agent
        .post('/admin/products')
        .type('form')
        .send({ _csrf: admin.csrf, name: '', description: '', image: '', price: '12.345' });

      expect(res.status).toBe(400);
      expect(res.text).toMatch(/<p class="field-error" id="price-error">List price \(USD\) must be an amount in dollars/);
      expect(res.text).toMatch(/<p class="field-error" id="name-error">Name is required/);
      expect(inputValue(res.text, 'price')).toBe('12.345');
      expect((await catalog().listProducts()).length).toBe(before);
    });

    it('when a JSON client sends a bad product, then 400 INVALID_INPUT names the fields', async () => {
      const res = await admin.agent
        .post('/admin/products')
        .set('Accept', JSON_ACCEPT)
        .set('X-CSRF-Token', admin.csrf)
        .send({ name: 'Ok', price: -3, image: 'javascript:alert(1)' });

      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ ok: false, code: 'INVALID_INPUT', message: expect.any(String) });
      expect(Object.keys(res.body.fields).sort()).toEqual(['image', 'price']);
    });

    it('when a product name holds HTML, then the admin pages show it escaped', async () => {
      const id = await catalog().createProduct({ name: '<script>alert(1)</script>', description: '', image: '', priceCents: 100 });

      const list = await admin.agent.get('/admin/products').expect(200);
      const form = await admin.agent.get(`/admin/products/${id}/edit`).expect(200);

      for (const page of [list.text, form.text]) {
        expect(page).not.toContain('<script>alert(1)</script>');
        expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      }
    });

    it('when an admin edits a product that does not exist, then 404', async () => {
      const res = await admin.agent.get('/admin/products/999999/edit');

      expect(res.status).toBe(404);
    });
  });

  describe('sales', () => {
    it('when an admin opens the new-sale form, then start and end are datetime-local inputs labelled UTC', async () => {
      await aProduct();

      const res = await admin.agent.get('/admin/sales/new').expect(200);

      expect(res.text).toMatch(/<label for="startsAt">Starts at \(UTC\)<\/label>\s*<input id="startsAt" name="startsAt" type="datetime-local"/);
      expect(res.text).toMatch(/<label for="endsAt">Ends at \(UTC\)<\/label>\s*<input id="endsAt" name="endsAt" type="datetime-local"/);
    });

    it('when an admin creates a sale, then its times are read as UTC, its price in dollars, and the funnel knows it', async () => {
      const productId = await aProduct();

      const res = await admin.agent.post('/admin/sales').type('form').send({
        _csrf: admin.csrf,
        productId: String(productId),
        stock: '25',
        price: '9.50',
        startsAt: '2031-03-04T05:06',
        endsAt: '2031-03-04T07:00',
      });

      expect(res.status).toBe(303);
      const sale = (await catalog().listSales()).find((s) => s.productId === productId)!;
      expect(res.headers.location).toBe(`/admin/sales?done=sale-created&id=${sale.id}`);
      expect(sale).toMatchObject({ stock: 25, remaining: 25, priceCents: 950, phase: 'upcoming' });
      expect(sale.startsAt.toISOString()).toBe('2031-03-04T05:06:00.000Z');
      expect(sale.endsAt.toISOString()).toBe('2031-03-04T07:00:00.000Z');
      expect(t.c.services.book.get(sale.id)).toMatchObject({ startsAt: Date.UTC(2031, 2, 4, 5, 6), stock: 25 });
      const list = await admin.agent.get('/admin/sales').expect(200);
      expect(list.text).toContain('2031-03-04 05:06 UTC');
    });

    it('when an admin edits an upcoming sale, then stock, price and times all change and the funnel follows', async () => {
      const id = await aSale({ startsIn: HOUR, endsIn: 2 * HOUR, stock: 10 });
      const { productId } = await catalog().getSale(id);

      const res = await admin.agent.post(`/admin/sales/${id}`).type('form').send({
        _csrf: admin.csrf,
        productId: String(productId),
        stock: '40',
        price: '3.25',
        startsAt: '2032-01-01T00:00:30',
        endsAt: '2032-01-02T00:00',
      });

      expect(res.status).toBe(303);
      const sale = await catalog().getSale(id);
      expect(sale).toMatchObject({ stock: 40, remaining: 40, priceCents: 325 });
      expect(sale.startsAt.toISOString()).toBe('2032-01-01T00:00:30.000Z');
      expect(t.c.services.book.inventory.remaining(id)).toBe(40);
    });

    it('when an admin saves a started sale with a new end, then the form round-trips the locked fields and it is accepted', async () => {
      const id = await aSale({ startsIn: -61_234, endsIn: HOUR, priceCents: 500 });
      const form = await admin.agent.get(`/admin/sales/${id}/edit`).expect(200);
      const fields = Object.fromEntries(['productId', 'stock', 'price', 'startsAt'].map((f) => [f, inputValue(form.text, f)]));
      const endsAt = new Date(Date.now() + 2 * HOUR).toISOString().slice(0, 16);

      const res = await admin.agent.post(`/admin/sales/${id}`).type('form').send({ _csrf: admin.csrf, ...fields, endsAt });

      expect(form.text).toContain('can no longer change');
      expect(res.status).toBe(303);
      expect((await catalog().getSale(id)).endsAt.toISOString().slice(0, 16)).toBe(endsAt);
    });

    it('when an admin changes the price of a started sale, then 409 SALE_LOCKED: orders were taken at the old price', async () => {
      const id = await aSale({ startsIn: -61_234, endsIn: HOUR, priceCents: 500 });
      const form = await admin.agent.get(`/admin/sales/${id}/edit`).expect(200);
      const fields = Object.fromEntries(['productId', 'stock', 'startsAt', 'endsAt'].map((f) => [f, inputValue(form.text, f)]));

      const res = await admin.agent.post(`/admin/sales/${id}`).type('form').send({ _csrf: admin.csrf, ...fields, price: '4.00' });

      expect(res.status).toBe(409);
      expect((await catalog().getSale(id)).priceCents).toBe(500);
    });

    it('when an admin changes the stock of a started sale, then 409 SALE_LOCKED and nothing changes', async () => {
      const id = await aSale({ startsIn: -60_000, endsIn: HOUR, stock: 10 });
      const sale = await catalog().getSale(id);
      const body = {
        productId: String(sale.productId),
        stock: '11',
        price: '5.00',
        startsAt: sale.startsAt.toISOString().slice(0, 23),
        endsAt: sale.endsAt.toISOString().slice(0, 23),
      };

      const json = await admin.agent.post(`/admin/sales/${id}`).set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send(body);
      const html = await admin.agent.post(`/admin/sales/${id}`).type('form').send({ _csrf: admin.csrf, ...body });

      expect(json.status).toBe(409);
      expect(json.body).toMatchObject({ ok: false, code: 'SALE_LOCKED' });
      expect(html.status).toBe(409);
      expect(html.text).toContain('its product, stock, price and start can no longer change');
      expect(html.text).toContain(`<form method="post" action="/admin/sales/${id}"`); // the form again, to fix
      expect(await catalog().getSale(id)).toMatchObject({ stock: 10, remaining: 10 });
    });

    it('when the sale form ends before it starts or names an impossible date, then 400 names those fields', async () => {
      const productId = await aProduct();
      const before = (await catalog().listSales()).length;

      const html = await admin.agent.post('/admin/sales').type('form').send({
        _csrf: admin.csrf, productId: String(productId), stock: '5', price: '1.00', startsAt: '2031-05-02T10:00', endsAt: '2031-05-02T09:00',
      });
      const json = await admin.agent.post('/admin/sales').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send({
        productId, stock: 0, price: '1.00', startsAt: '2031-02-30T10:00', endsAt: '2031-03-01T10:00',
      });

      expect(html.status).toBe(400);
      expect(html.text).toMatch(/id="endsAt-error">Ends at \(UTC\) must be after the start/);
      expect(json.status).toBe(400);
      expect(json.body).toMatchObject({ ok: false, code: 'INVALID_INPUT' });
      expect(Object.keys(json.body.fields).sort()).toEqual(['startsAt', 'stock']);
      expect((await catalog().listSales()).length).toBe(before);
    });

    it('when the sale form names a product that does not exist, then 400 on the product field', async () => {
      const res = await admin.agent.post('/admin/sales').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send({
        productId: 999999, stock: 5, price: '1.00', startsAt: '2031-05-02T10:00', endsAt: '2031-05-02T11:00',
      });

      expect(res.status).toBe(400);
      expect(res.body.fields).toEqual({ productId: 'is not a product' });
    });

    it('when an admin deletes an upcoming sale, then it is gone from the catalog and the funnel', async () => {
      const id = await aSale({ startsIn: HOUR, endsIn: 2 * HOUR });

      const res = await admin.agent.post(`/admin/sales/${id}/delete`).type('form').send({ _csrf: admin.csrf });

      expect(res.status).toBe(303);
      await expect(catalog().getSale(id)).rejects.toMatchObject({ status: 404 });
      expect(t.c.services.book.get(id)).toBeUndefined();
    });

    it('when an admin deletes a live sale, then 409 SALE_LIVE and it stays', async () => {
      const id = await aSale({ startsIn: -60_000, endsIn: HOUR });

      const html = await admin.agent.post(`/admin/sales/${id}/delete`).type('form').send({ _csrf: admin.csrf });
      const json = await admin.agent.post(`/admin/sales/${id}/delete`).set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send({});

      expect(html.status).toBe(409);
      expect(html.text).toContain('This sale is selling: set its end to now (Edit) or wait until it sells out, then delete it.');
      expect(html.text).toContain(`href="/admin/sales/${id}/delete"`); // the list again, not an error page
      expect(json.body).toMatchObject({ ok: false, code: 'SALE_LIVE' });
      await expect(catalog().getSale(id)).resolves.toMatchObject({ id });
    });

    it('when an admin creates a sale, then the list says so', async () => {
      const productId = await aProduct();

      const res = await admin.agent
        .post('/admin/sales')
        .type('form')
        .send({ _csrf: admin.csrf, productId: String(productId), stock: '5', price: '1.00', startsAt: '2031-01-01T00:00', endsAt: '2031-01-01T01:00' })
        .expect(303);
      const list = await admin.agent.get(res.headers.location).expect(200);
      const forged = await admin.agent.get('/admin/sales?done=<b>x</b>&id=1').expect(200);

      expect(list.text).toMatch(/<p class="alert ok" role="status">Sale \d+ created\./);
      expect(forged.text).not.toContain('alert ok');
    });

    it('when an admin asks to delete a sold-out sale with orders, then a page says what goes with it, and confirming deletes both', async () => {
      const id = await aSale({ startsIn: -60_000, endsIn: HOUR, stock: 1 });
      t.c.services.book.inventory.tryReserve(id, shopperId);
      await t.c.repos.orders.writeBatch([{ requestId: randomUUID(), saleId: id, userId: shopperId, at: Date.now() }]);

      const page = await admin.agent.get(`/admin/sales/${id}/delete`).expect(200);
      const res = await admin.agent.post(`/admin/sales/${id}/delete`).type('form').send({ _csrf: admin.csrf, deleteOrders: 'yes' });

      expect(page.text).toContain('Its 1 order will be deleted with it.');
      expect(page.text).toContain(`href="/admin/sales/${id}/orders.csv"`);
      expect(page.text).toContain('name="deleteOrders" value="yes"');
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`/admin/sales?done=sale-deleted&id=${id}`);
      await expect(catalog().getSale(id)).rejects.toMatchObject({ status: 404 });
      expect(await t.c.repos.orders.countBySale(id)).toBe(0);
    });

    it('when an admin asks to delete a sale that is selling, then the page says why not and offers no Delete button', async () => {
      const id = await aSale({ startsIn: -60_000, endsIn: HOUR, stock: 3 });

      const page = await admin.agent.get(`/admin/sales/${id}/delete`).expect(200);

      expect(page.text).toContain('This sale is selling');
      expect(page.text).not.toContain(`action="/admin/sales/${id}/delete"`);
    });

    it('when an admin deletes an ended sale that has orders, then 409 SALE_HAS_ORDERS', async () => {
      const id = await aSale({ startsIn: -2 * HOUR, endsIn: -HOUR });
      await t.c.repos.orders.writeBatch([{ requestId: randomUUID(), saleId: id, userId: shopperId, at: Date.now() - 90 * 60_000 }]);

      const res = await admin.agent.post(`/admin/sales/${id}/delete`).set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send({});

      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ ok: false, code: 'SALE_HAS_ORDERS' });
    });
  });

  describe('orders per sale', () => {
    it('when a sale has orders, then its page shows count, units sold and revenue', async () => {
      const id = await aSale({ startsIn: -60_000, endsIn: HOUR, stock: 10, priceCents: 1250 });
      const buyers = await Promise.all(['buyer_a', 'buyer_b'].map((u) => t.c.services.accounts.register(u, u, PASSWORD)));
      const requestIds = [randomUUID(), randomUUID()];
      await t.c.repos.orders.writeBatch(buyers.map((b, i) => ({ requestId: requestIds[i], saleId: id, userId: b.id, at: Date.now() })));

      const html = await admin.agent.get(`/admin/sales/${id}/orders`).expect(200);
      const json = await admin.agent.get(`/admin/sales/${id}/orders`).set('Accept', JSON_ACCEPT).expect(200);

      expect(html.text).toContain('data-total="count">2<');
      expect(html.text).toContain('data-total="unitsSold">2 of 10<');
      expect(html.text).toMatch(/data-total="revenue">\$25\.00\s*</);
      for (const r of requestIds) expect(html.text).toContain(r);
      expect(json.body.totals).toEqual({ count: 2, unitsSold: 2, revenueCents: 2500 });
      expect(json.body.orders.map((o: { userId: number }) => o.userId).sort()).toEqual(buyers.map((b) => b.id).sort());
    });

    it('when a sale has orders, then each shows who bought (nick name and user name), and a search finds them by name', async () => {
      const id = await aSale({ startsIn: -60_000, endsIn: HOUR, stock: 10 });
      const ann = await t.c.services.accounts.register('ann_buyer', 'Ann the Bold', PASSWORD);
      const bob = await t.c.services.accounts.register('bob_buyer', 'Bobby 100%', PASSWORD);
      await t.c.repos.orders.writeBatch([ann, bob].map((b) => ({ requestId: randomUUID(), saleId: id, userId: b.id, at: Date.now() })));

      const all = await admin.agent.get(`/admin/sales/${id}/orders`).expect(200);
      const byNick = await admin.agent.get(`/admin/sales/${id}/orders?q=bold`).expect(200);
      const byName = await admin.agent.get(`/admin/sales/${id}/orders`).query({ q: 'bob_' }).set('Accept', JSON_ACCEPT).expect(200);
      const literal = await admin.agent.get(`/admin/sales/${id}/orders`).query({ q: '100%' }).set('Accept', JSON_ACCEPT).expect(200);
      const none = await admin.agent.get(`/admin/sales/${id}/orders?q=nobody`).expect(200);

      expect(all.text).toContain('Ann the Bold');
      expect(all.text).toContain('ann_buyer');
      expect(all.text).toContain('Bobby 100%');
      expect(byNick.text).toContain('Ann the Bold');
      expect(byNick.text).not.toContain('bob_buyer');
      expect(byNick.text).toContain('1 of 2 orders match');
      expect(byName.body.orders.map((o: { userName: string }) => o.userName)).toEqual(['bob_buyer']);
      expect(literal.body.orders.map((o: { userName: string }) => o.userName)).toEqual(['bob_buyer']); // % is not a wildcard
      expect(none.text).toContain('No order matches');
    });

    it('when an admin exports the orders, then a CSV has a line per order with both names, and a search narrows it', async () => {
      const id = await aSale({ startsIn: -60_000, endsIn: HOUR, stock: 10 });
      const eve = await t.c.services.accounts.register('eve_csv', '=cmd|x', PASSWORD);
      const dan = await t.c.services.accounts.register('dan_csv', 'Dan, Jr.', PASSWORD);
      await t.c.repos.orders.writeBatch([eve, dan].map((b) => ({ requestId: randomUUID(), saleId: id, userId: b.id, at: Date.UTC(2030, 0, 2, 3, 4, 5) })));

      const csv = await admin.agent.get(`/admin/sales/${id}/orders.csv`).expect(200);
      const narrowed = await admin.agent.get(`/admin/sales/${id}/orders.csv?q=dan`).expect(200);
      const refused = await shopper.agent.get(`/admin/sales/${id}/orders.csv`);

      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      expect(csv.headers['content-disposition']).toBe(`attachment; filename="sale-${id}-orders.csv"`);
      const lines = csv.text.trim().split('\r\n');
      expect(lines[0]).toBe('order_id,request_id,user_id,user_name,nick_name,status,ordered_at_utc');
      expect(lines).toHaveLength(3);
      expect(lines.some((l) => l.includes(`,${eve.id},eve_csv,'=cmd|x,confirmed,2030-01-02T03:04:05.000Z`))).toBe(true);
      expect(lines.some((l) => l.includes(`,${dan.id},dan_csv,"Dan, Jr.",`))).toBe(true);
      expect(narrowed.text.trim().split('\r\n')).toHaveLength(2);
      expect(refused.status).toBe(403);
    });

    it('when a sale has no orders, then its totals are zero', async () => {
      const id = await aSale({ startsIn: HOUR, endsIn: 2 * HOUR, priceCents: 999 });

      const res = await admin.agent.get(`/admin/sales/${id}/orders`).set('Accept', JSON_ACCEPT).expect(200);

      expect(res.body.totals).toEqual({ count: 0, unitsSold: 0, revenueCents: 0 });
    });
  });

  describe('blacklist', () => {
    it('when an admin blocks an IP until a time, then it is listed and the funnel blocks that IP until then', async () => {
      const until = new Date(Date.UTC(2040, 0, 1, 12, 0));

      const res = await admin.agent
        .post('/admin/blacklist')
        .type('form')
        .send({ _csrf: admin.csrf, user: '', ip: '198.51.100.7', reason: 'scripted buying', until: '2040-01-01T12:00' });

      const entry = (await t.c.services.blacklist.list()).find((e) => e.ip === '198.51.100.7')!;
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`/admin/blacklist?done=blacklist-added&id=${entry.id}`);
      expect(entry).toMatchObject({ userId: null, reason: 'scripted buying' });
      expect(entry.until?.toISOString()).toBe(until.toISOString());
      expect(t.c.services.blacklist.isBlocked(0, '198.51.100.7', Date.now())).toBe(true);
      expect(t.c.services.blacklist.isBlocked(0, '198.51.100.7', until.getTime() + 1)).toBe(false);
      const page = await admin.agent.get('/admin/blacklist').expect(200);
      expect(page.text).toContain('198.51.100.7');
      expect(page.text).toContain('2040-01-01 12:00 UTC');
    });

    it('when an admin blocks an IPv4 address written as IPv6-mapped, then the plain IPv4 form is stored', async () => {
      const res = await admin.agent.post('/admin/blacklist').type('form').send({ _csrf: admin.csrf, ip: '::FFFF:192.0.2.44', reason: 'mapped', until: '' });

      expect(res.status).toBe(303);
      expect((await t.c.services.blacklist.list()).find((e) => e.reason === 'mapped')?.ip).toBe('192.0.2.44');
    });

    it('when an admin blocks a user by #id for good, then the funnel blocks that user', async () => {
      const user = await t.c.services.accounts.register('blockme', 'Block me', PASSWORD);

      const res = await admin.agent.post('/admin/blacklist').type('form').send({ _csrf: admin.csrf, user: `#${user.id}`, ip: '', reason: 'chargebacks', until: '' });

      expect(res.status).toBe(303);
      expect(t.c.services.blacklist.isBlocked(user.id, '192.0.2.1', Date.now() + 100 * 365 * 24 * HOUR)).toBe(true);
    });

    it('when an admin removes an entry, then the funnel lets that IP buy again', async () => {
      const id = await t.c.services.blacklist.add({ userId: null, ip: '192.0.2.77', reason: 'test', until: null });

      const res = await admin.agent.post(`/admin/blacklist/${id}/delete`).type('form').send({ _csrf: admin.csrf });

      expect(res.status).toBe(303);
      expect(t.c.services.blacklist.isBlocked(0, '192.0.2.77', Date.now())).toBe(false);
      expect((await t.c.services.blacklist.list()).some((e) => e.id === id)).toBe(false);
    });

    it('when an admin removes an entry that does not exist, then 404', async () => {
      const res = await admin.agent.post('/admin/blacklist/999999/delete').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send({});

      expect(res.status).toBe(404);
    });

    it('when the blacklist form names neither a user nor an IP, then 400 on the user field', async () => {
      const before = (await t.c.services.blacklist.list()).length;

      const html = await admin.agent.post('/admin/blacklist').type('form').send({ _csrf: admin.csrf, user: '', ip: '', reason: 'x', until: '' });
      const json = await admin.agent.post('/admin/blacklist').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send({ reason: 'x' });

      expect(html.status).toBe(400);
      expect(html.text).toMatch(/id="user-error">User or an IP address is required/);
      expect(json.status).toBe(400);
      expect(json.body).toMatchObject({ code: 'INVALID_INPUT', fields: { user: 'or an IP address is required' } });
      expect((await t.c.services.blacklist.list()).length).toBe(before);
    });

    it('when the blacklist form has a bad IP, a past end and no reason, then 400 names each field', async () => {
      const res = await admin.agent
        .post('/admin/blacklist')
        .set('Accept', JSON_ACCEPT)
        .set('X-CSRF-Token', admin.csrf)
        .send({ ip: '999.1.1.1', reason: '', until: '2001-01-01T00:00' });

      expect(res.status).toBe(400);
      expect(Object.keys(res.body.fields).sort()).toEqual(['ip', 'reason', 'until']);
      const past = await admin.agent
        .post('/admin/blacklist')
        .set('Accept', JSON_ACCEPT)
        .set('X-CSRF-Token', admin.csrf)
        .send({ ip: '192.0.2.5', reason: 'r', until: '2001-01-01T00:00' });
      expect(past.status).toBe(400);
      expect(Object.keys(past.body.fields)).toEqual(['until']);
    });

    describe('with a user lookup wired into the controller', () => {
      let app: ReturnType<typeof createApp>;
      let viaLookup: { agent: Agent; csrf: string };

      beforeAll(async () => {
        const s = t.c.services;
        const controller = new AdminController(s.catalog, s.orders, s.blacklist, s.accounts);
        app = createApp({ ...t.c, controllers: { ...t.c.controllers, admin: controller } });
        viaLookup = await browser(app, 'boss');
      });

      it('when an admin blocks a user by user name, then the entry holds that user id and shows the name', async () => {
        const user = await t.c.services.accounts.register('named_bot', 'Bot', PASSWORD);

        const res = await viaLookup.agent.post('/admin/blacklist').type('form').send({ _csrf: viaLookup.csrf, user: 'named_bot', reason: 'bot', until: '' });

        expect(res.status).toBe(303);
        expect(t.c.services.blacklist.isBlocked(user.id, '', Date.now())).toBe(true);
        const page = await viaLookup.agent.get('/admin/blacklist').expect(200);
        expect(page.text).toContain(`#${user.id} (named_bot)`);
      });

      it('when an admin blocks a user name nobody has, then 400 on the user field', async () => {
        const res = await viaLookup.agent.post('/admin/blacklist').type('form').send({ _csrf: viaLookup.csrf, user: 'nobody_here', reason: 'bot', until: '' });

        expect(res.status).toBe(400);
        expect(res.text).toMatch(/id="user-error">User is not a known user name/);
      });
    });
  });

  describe('draw sales', () => {
    const at = (ms: number) => new Date(Date.now() + ms).toISOString().slice(0, 19);
    const post = (body: Record<string, string>) =>
      admin.agent.post('/admin/sales').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send(body);

    it('when an admin creates a draw sale, then it has a commitment, no seed yet, and its draw page shows both', async () => {
      const productId = String(await aProduct());
      const res = await post({ productId, stock: '5', price: '3', startsAt: at(HOUR), endsAt: at(2 * HOUR), allocation: 'draw', drawWindowSeconds: '10' });
      expect(res.status).toBe(201);
      const sale = (await t.c.repos.sales.findById(res.body.id))!;
      expect(sale).toMatchObject({ allocation: 'draw', drawWindowSeconds: 10, drawState: 'open', drawSeed: null });
      expect(sale.drawCommitment).toMatch(/^[0-9a-f]{64}$/);
      const page = await admin.agent.get(`/admin/sales/${res.body.id}/draw`).expect(200);
      expect(page.text).toContain(sale.drawCommitment!);
      expect(page.text).toContain('revealed once drawn');
      const json = await admin.agent.get(`/admin/sales/${res.body.id}/draw`).set('Accept', JSON_ACCEPT).expect(200);
      expect(json.body.draw).toMatchObject({ window: 10, entries: 0, seed: null, winners: null, commitment: sale.drawCommitment });
      // The public page shows the commitment and explains the draw, but never the seed before the draw.
      const pub = await request(t.app).get(`/sales/${res.body.id}`).expect(200);
      expect(pub.text).toContain('This sale is a draw');
      expect(pub.text).toContain(sale.drawCommitment!);
      const form = await admin.agent.get(`/admin/sales/${res.body.id}/edit`).expect(200);
      expect(form.text).toMatch(/value="draw" checked/);
      expect(inputValue(form.text, 'drawWindowSeconds')).toBe('10');
    });

    it.each([
      ['no window', { drawWindowSeconds: '' }, /from 1 to 3600/],
      ['a window of 0 s', { drawWindowSeconds: '0' }, /from 1 to 3600/],
      ['a window longer than the sale', { drawWindowSeconds: '3600', endsAt: '+30m' }, /must end before the sale does/],
      ['an unknown allocation', { allocation: 'auction' }, /first come or draw/],
    ])('when an admin sends a draw sale with %s, then 400 with the reason next to the field', async (_what, change, reason) => {
      const productId = String(await aProduct());
      const body: Record<string, string> = { productId, stock: '5', price: '3', startsAt: at(HOUR), endsAt: at(2 * HOUR), allocation: 'draw', drawWindowSeconds: '10', ...change };
      if (body.endsAt === '+30m') body.endsAt = at(HOUR + 1800_000);
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(reason);
      const form = await admin.agent.post('/admin/sales').type('form').send({ ...body, _csrf: admin.csrf });
      expect(form.status).toBe(400);
      expect(form.text).toMatch(reason);
    });

    it('when an admin turns an upcoming first-come sale into a draw, then it gets a commitment; once started, the allocation is locked', async () => {
      const id = await aSale({ startsIn: HOUR, endsIn: 2 * HOUR });
      const sale = (await t.c.repos.sales.findById(id))!;
      const values = { productId: String(sale.productId), stock: '10', price: '5', startsAt: at(HOUR), endsAt: at(2 * HOUR) };
      const res = await admin.agent.post(`/admin/sales/${id}`).set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf)
        .send({ ...values, allocation: 'draw', drawWindowSeconds: '15' });
      expect(res.status).toBe(200);
      expect((await t.c.repos.sales.findById(id))!.drawCommitment).toMatch(/^[0-9a-f]{64}$/);
      const started = await aSale({ startsIn: -1000, endsIn: HOUR });
      const s2 = (await t.c.repos.sales.findById(started))!;
      const locked = await admin.agent.post(`/admin/sales/${started}`).set('Accept', JSON_ACCEPT).set('X-CSRF-Token', admin.csrf).send({
        productId: String(s2.productId), stock: '10', price: '5', startsAt: s2.startsAt.toISOString().slice(0, 23), endsAt: at(HOUR), allocation: 'draw', drawWindowSeconds: '5',
      });
      expect(locked.status).toBe(409);
      expect(locked.body.code).toBe('SALE_LOCKED');
    });
  });

  describe('who may use the admin pages', () => {
    /** Every /admin route in the route table, with an existing id filled in. */
    async function adminRoutes(): Promise<{ method: 'get' | 'post'; path: string }[]> {
      const id = await aProduct();
      const found: { method: 'get' | 'post'; path: string }[] = [];
      for (const layer of routes(t.c).stack as { route?: { path: string; methods: Record<string, boolean> } }[]) {
        if (!layer.route || !layer.route.path.startsWith('/admin')) continue;
        for (const method of Object.keys(layer.route.methods)) {
          found.push({ method: method as 'get' | 'post', path: layer.route.path.replace(':id', String(id)) });
        }
      }
      return found;
    }

    const productBody = { name: 'Sneaky', description: '', image: '', price: '1.00' };

    it('when a shopper calls any admin route, then every one answers 403 and nothing changes', async () => {
      const all = await adminRoutes();
      const before = await catalog().listProducts();

      const results = [];
      for (const r of all) {
        const req = r.method === 'get' ? shopper.agent.get(r.path) : shopper.agent.post(r.path).set('X-CSRF-Token', shopper.csrf).send(productBody);
        results.push({ ...r, json: await req.set('Accept', JSON_ACCEPT) });
      }
      const page = await shopper.agent.get('/admin/products');

      expect(all.length).toBeGreaterThanOrEqual(17);
      expect(all.filter((r) => r.method === 'post').length).toBeGreaterThanOrEqual(7);
      for (const r of results) {
        expect({ route: `${r.method} ${r.path}`, status: r.json.status, code: r.json.body.code }).toEqual({
          route: `${r.method} ${r.path}`,
          status: 403,
          code: 'ADMIN_ONLY',
        });
      }
      expect(page.status).toBe(403);
      expect(page.headers['content-type']).toMatch(/html/);
      expect(await catalog().listProducts()).toEqual(before);
    });

    it('when a logged-out visitor calls any admin route, then JSON gets 401 and a page gets a 401 page', async () => {
      const all = await adminRoutes();
      const visitor = await browser(t.app);
      const before = await catalog().listProducts();

      const results = [];
      for (const r of all) {
        const req = r.method === 'get' ? visitor.agent.get(r.path) : visitor.agent.post(r.path).set('X-CSRF-Token', visitor.csrf).send(productBody);
        results.push({ ...r, json: await req.set('Accept', JSON_ACCEPT) });
      }
      const page = await visitor.agent.get('/admin');

      for (const r of results) {
        expect({ route: `${r.method} ${r.path}`, status: r.json.status, code: r.json.body.code }).toEqual({
          route: `${r.method} ${r.path}`,
          status: 401,
          code: 'NOT_LOGGED_IN',
        });
      }
      expect(page.status).toBe(401);
      expect(page.text).toContain('Please log in first.');
      expect(await catalog().listProducts()).toEqual(before);
    });

    it('when an admin page is opened by the admin, then it is not refused (the guard lets admins through)', async () => {
      const res = await admin.agent.get('/admin/blacklist').set('Accept', JSON_ACCEPT);

      expect(res.status).toBe(200);
      expect(res.body.ok).toBe(true);
    });
  });
});
