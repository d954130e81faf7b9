// The documented order of the purchase funnel's gates, over real HTTP, with the per-shopper interval on as in
// production (10 s): a request that several gates would refuse hears the earliest one, and a refusal before
// the pacing gate does not spend the shopper's one try.
import { buildTestApp, TestApp, testDatabases } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, createSale, createShoppers, Shopper, waitForOrders } from '../helpers/shoppers';

const BAD_PATH = 'AAAAAAAAAAAAAAAA';
const CROSS_SITE = { Origin: 'https://elsewhere.example' };

describe.each(testDatabases())('the funnel gate order on %s, one try per shopper per 10 s', (database) => {
  let t: TestApp;
  let server: { base: string; close(): Promise<void> };
  let liveSale: number;
  let upcomingSale: number;
  let shoppers: Shopper[];

  beforeAll(async () => {
    t = await buildTestApp({ database, env: { USER_INTERVAL_MS: '10000' } });
    server = await listen(t.app);
    liveSale = await createSale(t.c, { stock: 2 });
    upcomingSale = await createSale(t.c, { stock: 2, startsInMs: 3600_000 });
    shoppers = await createShoppers(t.c, 4);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it('when a cross-site request has no login cookie either, then CROSS_SITE (the Origin check comes first)', async () => {
    const r = await buy(server.base, t.c, liveSale, shoppers[0], { cookie: null, headers: CROSS_SITE });

    expect(r).toMatchObject({ status: 403, code: 'CROSS_SITE' });
  });

  it('when the sale has not started and path and ticket are wrong too, then NOT_STARTED, and the try is not spent', async () => {
    const [s] = shoppers;

    const early = await buy(server.base, t.c, upcomingSale, s, { path: BAD_PATH, ticket: 'nope' });
    const now = await buy(server.base, t.c, liveSale, s);

    expect(early).toMatchObject({ status: 403, code: 'NOT_STARTED' });
    expect(now).toMatchObject({ status: 202, code: 'ACCEPTED' });
  });

  it('when a shopper who bought tries again at once, then ALREADY_BOUGHT, not TOO_FAST', async () => {
    const r = await buy(server.base, t.c, liveSale, shoppers[0]);

    expect(r).toMatchObject({ status: 409, code: 'ALREADY_BOUGHT' });
  });

  it('when a blocked shopper sends a wrong path, then BLOCKED, and once unblocked the try is still there', async () => {
    const s = shoppers[1];
    const entry = await t.c.services.blacklist.add({ userId: s.id, ip: null, reason: 'test', until: null });

    const blocked = await buy(server.base, t.c, liveSale, s, { path: BAD_PATH });
    await t.c.services.blacklist.remove(entry);
    const wrongPath = await buy(server.base, t.c, liveSale, s, { path: BAD_PATH });
    const again = await buy(server.base, t.c, liveSale, s);

    expect(blocked).toMatchObject({ status: 403, code: 'BLOCKED' });
    // The wrong path came after the pacing gate: it spent the try, so the good request waits its turn.
    expect(wrongPath).toMatchObject({ status: 404, code: 'PATH_INVALID' });
    expect(again).toMatchObject({ status: 429, code: 'TOO_FAST' });
    expect(Number(again.retryAfter)).toBeGreaterThanOrEqual(9);
    expect(Number(again.retryAfter)).toBeLessThanOrEqual(10);
  });

  it('when the last unit is sold, then everyone hears SOLD_OUT: before the cookie, and before pacing', async () => {
    const [, , buyer, late] = shoppers;
    expect(await buy(server.base, t.c, liveSale, buyer)).toMatchObject({ status: 202 });
    await waitForOrders(t.c);
    await buy(server.base, t.c, liveSale, late, { path: BAD_PATH }); // spends late's try, if it still had one

    const anonymous = await buy(server.base, t.c, liveSale, late, { cookie: null });
    const paced = await buy(server.base, t.c, liveSale, late);

    expect(anonymous).toMatchObject({ status: 410, code: 'SOLD_OUT' });
    expect(paced).toMatchObject({ status: 410, code: 'SOLD_OUT' });
  });
});
