// The bench's own rows: what it prepares for a run, and that it takes them away again afterwards.
import { createSale, createShoppers } from '../../tools/bench/prepare';
import { removeBenchRun } from '../../tools/lib/toolsData';
import { buildTestApp, TestApp, testDatabases } from '../helpers/buildTestApp';

describe.each(testDatabases())('bench run rows on %s', (database) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ database });
  });
  afterAll(() => t.close());

  it("when a run is removed, then its shoppers, sales, product and orders are gone and another run's stay", async () => {
    const ds = t.c.dataSource;
    const runs = ['20260101T000000-aaaaaa', '20260101T000000-bbbbbb'];
    const made = [];
    for (const runId of runs) {
      const users = await createShoppers(ds, runId, 5);
      const saleId = await createSale(ds, runId, 10, 60_000);
      const presale = await createSale(ds, `${runId}-presale`, 10, 60_000, 60_000);
      await t.c.repos.orders.writeBatch(users.slice(0, 3).map((userId, i) => ({ requestId: `${runId.slice(-6)}-${i}`, saleId, userId, at: Date.now() })));
      made.push({ users, saleId, presale });
    }

    await removeBenchRun(ds, runs[0]);

    const [gone, kept] = made;
    expect(await t.c.repos.orders.countBySale(gone.saleId)).toBe(0);
    expect(await t.c.repos.sales.findById(gone.saleId)).toBeNull();
    expect(await t.c.repos.sales.findById(gone.presale)).toBeNull();
    for (const id of gone.users) expect(await t.c.repos.users.findById(id)).toBeNull();
    expect(await t.c.repos.orders.countBySale(kept.saleId)).toBe(3);
    expect(await t.c.repos.sales.findById(kept.presale)).not.toBeNull();
    const products = async (runId: string) =>
      Number((await ds.query('SELECT COUNT(*) AS n FROM products WHERE name LIKE ?', [`Bench phone ${runId}%`]))[0].n);
    expect(await products(runs[0])).toBe(0);
    expect(await products(runs[1])).toBe(2);
    for (const id of kept.users) expect(await t.c.repos.users.findById(id)).not.toBeNull();
  });
});
