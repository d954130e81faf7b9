// Shopper pages: the sale page is the same for everyone and cacheable; its live part is small JSON.
import request from 'supertest';
import { buildTestApp, TestApp } from '../helpers/buildTestApp';
import { createSale, createShoppers } from '../helpers/shoppers';

describe('sale page', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('when a logged-in shopper opens a sale page, then it is the shared cacheable page with no cookie and no name', async () => {
    const saleId = await createSale(t.c, { stock: 3 });
    const [shopper] = await createShoppers(t.c, 1);

    const anonymous = await request(t.app).get(`/sales/${saleId}`);
    const loggedIn = await request(t.app).get(`/sales/${saleId}`).set('Cookie', shopper.cookie);

    expect(loggedIn.status).toBe(200);
    expect(loggedIn.headers['cache-control']).toMatch(/^public, max-age=\d+/);
    expect(loggedIn.headers['set-cookie']).toBeUndefined();
    expect(loggedIn.text).not.toContain('Shopper 0');
    expect(loggedIn.text).not.toContain('csrf');
    expect(loggedIn.text).not.toContain('/buy/');
    expect(loggedIn.text).toBe(anonymous.text);
  });

  it('when the page asks for its live state, then it gets figures, the shopper and a CSRF token, never cached', async () => {
    const saleId = await createSale(t.c, { stock: 3 });
    const [shopper] = await createShoppers(t.c, 1);

    const res = await request(t.app).get(`/api/sales/${saleId}`).set('Cookie', shopper.cookie);

    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ id: saleId, phase: 'live', left: 3, stock: 3, bought: false, loggedIn: true, user: { nickName: 'Shopper 0' } });
    expect(typeof res.body.csrfToken).toBe('string');
  });

  it('when the sale id is not a number or unknown, then 400 or 404', async () => {
    expect((await request(t.app).get('/sales/abc')).status).toBe(400);
    expect((await request(t.app).get('/sales/424242')).status).toBe(404);
  });
});
