// Batch order writes: the fast path, and the careful path for redeliveries and second orders.
import { StockExhaustedError } from '../../src/repositories/OrderRepository';
import { buildTestApp, TestApp, testDatabases } from '../helpers/buildTestApp';
import { createSale, createShoppers } from '../helpers/shoppers';

describe.each(testDatabases())('OrderRepository.writeBatch on %s', (database) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ database });
  });
  afterAll(() => t.close());

  const order = (requestId: string, saleId: number, userId: number) => ({ requestId, saleId, userId, at: Date.now() });

  it('when a batch of new orders is written, then each is inserted and the stock drops by their number', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const users = await createShoppers(t.c, 3);

    const outcome = await t.c.repos.orders.writeBatch(users.map((u, i) => order(`new-${saleId}-${i}`, saleId, u.id)));

    expect([...outcome.values()]).toEqual(['inserted', 'inserted', 'inserted']);
    expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(2);
  });

  it('when written orders come again with new ones, even at zero stock, then the old are duplicates and stock drops once', async () => {
    const saleId = await createSale(t.c, { stock: 2 });
    const [a, b] = await createShoppers(t.c, 2);
    await t.c.repos.orders.writeBatch([order(`r1-${saleId}`, saleId, a.id)]);
    await t.c.repos.orders.writeBatch([order(`r2-${saleId}`, saleId, b.id)]);

    const outcome = await t.c.repos.orders.writeBatch([order(`r1-${saleId}`, saleId, a.id), order(`r2-${saleId}`, saleId, b.id)]);

    expect(Object.fromEntries(outcome)).toEqual({ [`r1-${saleId}`]: 'duplicate', [`r2-${saleId}`]: 'duplicate' });
    expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(0);
    expect(await t.c.repos.orders.countBySale(saleId)).toBe(2);
  });

  it('when a shopper who has an order sends another request, then it is a conflict and nothing else changes', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const [a, b] = await createShoppers(t.c, 2);
    await t.c.repos.orders.writeBatch([order(`first-${saleId}`, saleId, a.id)]);

    const outcome = await t.c.repos.orders.writeBatch([order(`second-${saleId}`, saleId, a.id), order(`other-${saleId}`, saleId, b.id)]);

    expect(Object.fromEntries(outcome)).toEqual({ [`second-${saleId}`]: 'conflict', [`other-${saleId}`]: 'inserted' });
    expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(3);
  });

  it('when a batch asks for more units than are left, then it fails whole and nothing is written', async () => {
    const saleId = await createSale(t.c, { stock: 1 });
    const [a, b] = await createShoppers(t.c, 2);

    await expect(
      t.c.repos.orders.writeBatch([order(`x1-${saleId}`, saleId, a.id), order(`x2-${saleId}`, saleId, b.id)]),
    ).rejects.toBeInstanceOf(StockExhaustedError);

    expect(await t.c.repos.orders.countBySale(saleId)).toBe(0);
    expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(1);
  });

  it('when orders are counted after an id, then only the newer orders of that sale count and the last id moves on', async () => {
    const saleId = await createSale(t.c, { stock: 5 });
    const otherSale = await createSale(t.c, { stock: 5 });
    const [a, b, c] = await createShoppers(t.c, 3);
    const empty = await t.c.repos.orders.countBySaleAfter(saleId, 0);
    expect(empty).toEqual({ count: 0, lastId: 0 });

    await t.c.repos.orders.writeBatch([order(`c1-${saleId}`, saleId, a.id)]);
    const first = await t.c.repos.orders.countBySaleAfter(saleId, 0);
    expect(first.count).toBe(1);
    await t.c.repos.orders.writeBatch([order(`c2-${saleId}`, saleId, b.id), order(`c3-${otherSale}`, otherSale, c.id)]);

    const next = await t.c.repos.orders.countBySaleAfter(saleId, first.lastId);
    expect(next.count).toBe(1);
    expect(next.lastId).toBeGreaterThan(first.lastId);
    expect(await t.c.repos.orders.countBySaleAfter(saleId, next.lastId)).toEqual({ count: 0, lastId: next.lastId });
  });
});
