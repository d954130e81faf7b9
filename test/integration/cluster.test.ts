// Several instances of the shop on one MariaDB and one RabbitMQ (docs/CLUSTER.md): each sells from a slice
// of the stock leased from the database; buyers, sold-out news, blacklist, revocations and sale edits reach
// the others over the broker; a stopped instance returns its slice, a dead one's comes back once its orders
// are written. Runs when TEST_DATABASE_URL and TEST_AMQP_URL are set (CI sets both).
import { AuditService } from '../../src/services/AuditService';
import type { LeasedInventory } from '../../src/services/LeasedInventory';
import { buildTestApp, TestApp } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, BuyResponse, createSale, createShoppers, Shopper, waitForOrders } from '../helpers/shoppers';
import { waitFor, waitUntil } from '../helpers/waitFor';

const both = process.env.TEST_DATABASE_URL && process.env.TEST_AMQP_URL;
const describeCluster = both ? describe : describe.skip;

interface Instance {
  t: TestApp;
  base: string;
  close(): Promise<void>;
}

const CLUSTER_ENV = { LEASE_TTL_MS: '2000', WRITER_HOLD_MS: '0' };

async function instance(id: string, first?: Instance): Promise<Instance> {
  const t = first
    ? await buildTestApp({ reuse: first.t, env: { INSTANCE_ID: id } })
    : await buildTestApp({ database: 'mysql', queue: 'rabbitmq', env: { ...CLUSTER_ENV, INSTANCE_ID: id } });
  const server = await listen(t.app);
  return { t, base: server.base, close: server.close };
}

const stock = (i: Instance) => i.t.c.services.book.inventory as LeasedInventory;

/** A purchase, asked again while the instance answers RESTOCKING (a refill or a settle under way). */
async function buyThrough(i: Instance, saleId: number, shopper: Shopper): Promise<BuyResponse> {
  let r = await buy(i.base, i.t.c, saleId, shopper);
  await waitUntil(`shopper ${shopper.id} answered other than RESTOCKING`, async () => {
    if (r.code !== 'RESTOCKING') return true;
    r = await buy(i.base, i.t.c, saleId, shopper);
    return r.code !== 'RESTOCKING';
  }, 15_000, 50);
  return r;
}

async function sql<T>(i: Instance, query: string, params: unknown[] = []): Promise<T[]> {
  return (await i.t.c.dataSource.query(query, params)) as T[];
}

/** The sale's stock as the database has it, in one statement (one snapshot: the instances may lease meanwhile). */
async function ledger(i: Instance, saleId: number) {
  const [row] = await sql<Record<'stock' | 'remaining' | 'unleased' | 'orders' | 'held' | 'leases', number>>(
    i,
    `SELECT s.stock, s.remaining, s.unleased,
       (SELECT COUNT(*) FROM orders WHERE sale_id = s.id) AS orders,
       COALESCE((SELECT SUM(l.granted - (SELECT COUNT(*) FROM orders o WHERE o.lease_id = l.id)) FROM stock_leases l WHERE l.sale_id = s.id AND l.state = 'active'), 0) AS held,
       (SELECT COUNT(*) FROM stock_leases WHERE sale_id = s.id) AS leases
     FROM flash_sales s WHERE s.id = ?`,
    [saleId],
  );
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as Record<'stock' | 'remaining' | 'unleased' | 'orders' | 'held' | 'leases', number>;
}

async function audit(i: Instance, saleId: number) {
  return new AuditService(i.t.c.repos.sales, i.t.c.repos.orders).audit({ saleId });
}

describeCluster('several instances sharing one sale', () => {
  let a: Instance;
  let b: Instance;

  beforeEach(async () => {
    a = await instance('a');
    b = await instance('b', a);
    await waitFor('both instances settled', () => stock(a).isSettled() && stock(b).isSettled(), 15_000);
  });

  afterEach(async () => {
    await b.close();
    await a.close();
    await b.t.close(); // closes a's too
  });

  it('when shoppers buy through both, then the stock is sold exactly once, each shopper once, and the ledger balances', async () => {
    const saleId = await createSale(a.t.c, { stock: 10 });
    await waitFor('the sale known to b', () => b.t.c.services.book.get(saleId) !== undefined);
    const shoppers = await createShoppers(a.t.c, 30);

    const answers = await Promise.all(shoppers.map((s, n) => buyThrough(n % 2 ? b : a, saleId, s)));
    const accepted = answers.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(10);
    expect(answers.filter((r) => r.status !== 202).every((r) => r.code === 'SOLD_OUT')).toBe(true);

    await waitForOrders(a.t.c);
    await waitForOrders(b.t.c);
    const l = await ledger(a, saleId);
    expect(l).toMatchObject({ stock: 10, remaining: 0, orders: 10 });
    // Every unit is sold, unleased, or held by a lease: nothing counted twice, nothing lost.
    expect(l.unleased + l.held + l.orders).toBe(10);
    // Sold out everywhere, told by the broadcast: the refusals needed no call to the authority.
    expect(a.t.c.services.book.inventory.isSoldOut(saleId) && b.t.c.services.book.inventory.isSoldOut(saleId)).toBe(true);
    const report = await audit(a, saleId);
    expect(report.failures).toEqual([]);
    expect(report.checks.map((c) => c.name)).toContain('leases balance: orders + unleased + held by instances == initial stock');
  });

  it('when asked /healthz, then each instance tells its incarnation, whether it is settled and the members', async () => {
    const res = await fetch(`${b.base}/healthz`);
    const body = (await res.json()) as { cluster: { incarnation: string; settled: boolean; members: number; heldUnits: number } };
    expect(body.cluster).toMatchObject({ settled: true, members: 2, heldUnits: 0 });
    expect(body.cluster.incarnation).toMatch(/^b#[0-9a-f]{8}$/);
  });

  it('when a shopper bought through one instance, then the other answers ALREADY_BOUGHT', async () => {
    const saleId = await createSale(a.t.c, { stock: 5 });
    await waitFor('the sale known to b', () => b.t.c.services.book.get(saleId) !== undefined);
    const [ann] = await createShoppers(a.t.c, 1);

    expect((await buyThrough(a, saleId, ann)).status).toBe(202);
    await waitFor('b told of the buyer', () => b.t.c.services.book.inventory.hasBought(saleId, ann.id));
    expect(await buyThrough(b, saleId, ann)).toMatchObject({ status: 409, code: 'ALREADY_BOUGHT' });
  });

  it('when an instance stops gracefully, then its unsold units go back and the other sells them', async () => {
    const saleId = await createSale(a.t.c, { stock: 6 });
    await waitFor('the sale known to b', () => b.t.c.services.book.get(saleId) !== undefined);
    const shoppers = await createShoppers(a.t.c, 8);
    expect((await buyThrough(b, saleId, shoppers[0])).status).toBe(202);
    await waitFor('b holds a lease', () => stock(b).leaseOf(saleId) !== undefined);

    await b.close();
    await b.t.stop();
    // b handed its lease back: none of its leases is active, each is returned and balanced.
    const bLeases = await sql<{ state: string }>(a, "SELECT state FROM stock_leases WHERE sale_id = ? AND instance_id LIKE 'b#%'", [saleId]);
    expect(bLeases.length).toBeGreaterThan(0);
    expect(bLeases.every((l) => l.state === 'returned')).toBe(true);
    expect((await audit(a, saleId)).failures).toEqual([]);

    const rest = await Promise.all(shoppers.slice(1).map((s) => buyThrough(a, saleId, s)));
    expect(rest.filter((r) => r.status === 202)).toHaveLength(5);
    await waitForOrders(a.t.c);
    expect(await ledger(a, saleId)).toMatchObject({ remaining: 0, orders: 6 });
    expect((await audit(a, saleId)).failures).toEqual([]);
  });

  it('when an instance dies holding a lease, then its units come back once its orders are written, and nobody buys twice', async () => {
    const saleId = await createSale(a.t.c, { stock: 8 });
    await waitFor('the sale known to b', () => b.t.c.services.book.get(saleId) !== undefined);
    const shoppers = await createShoppers(a.t.c, 12);
    const first = await Promise.all(shoppers.slice(0, 3).map((s) => buyThrough(b, saleId, s)));
    expect(first.every((r) => r.status === 202)).toBe(true);

    await b.close();
    await b.t.crash();
    // a hears of the silence: until b's lease is reclaimed, only shoppers a served before may buy.
    await waitFor('a unsettled by the silence', () => !stock(a).isSettled(), 10_000);
    expect((await buy(a.base, a.t.c, saleId, shoppers[0])).code).toMatch(/^(RESTOCKING|ALREADY_BOUGHT)$/);
    await waitFor('a settled again', () => stock(a).isSettled(), 20_000);

    const again = await buyThrough(a, saleId, shoppers[0]);
    expect(again).toMatchObject({ status: 409, code: 'ALREADY_BOUGHT' });
    const rest = await Promise.all(shoppers.slice(3).map((s) => buyThrough(a, saleId, s)));
    expect(rest.filter((r) => r.status === 202)).toHaveLength(5);
    await waitForOrders(a.t.c);
    const l = await ledger(a, saleId);
    expect(l).toMatchObject({ remaining: 0, orders: 8 });
    const [reclaimed] = await sql<{ n: number }>(a, "SELECT COUNT(*) AS n FROM stock_leases WHERE sale_id = ? AND state = 'reclaimed'", [saleId]);
    expect(Number(reclaimed.n)).toBeGreaterThan(0);
    expect((await audit(a, saleId)).failures).toEqual([]);
  });

  it('when a draw sale takes entries through both, then it is drawn once, its units stay unleased until then, and the leftover sells first come from leases', async () => {
    const saleId = await createSale(a.t.c, { stock: 4, startsInMs: -300, drawWindowSeconds: 3 });
    await waitFor('the sale known to b', () => b.t.c.services.book.get(saleId) !== undefined);
    const shoppers = await createShoppers(a.t.c, 3);
    const entries = await Promise.all(shoppers.map((s, n) => buy((n % 2 ? b : a).base, (n % 2 ? b : a).t.c, saleId, s)));
    expect(entries.map((r) => r.code)).toEqual(['ENTERED', 'ENTERED', 'ENTERED']);
    // Nobody leased the draw sale's units: the draw takes its winners from the authority.
    expect(await ledger(a, saleId)).toMatchObject({ unleased: 4, leases: 0 });

    const drawnBy = (i: Instance) => i.t.c.services.book.drawPhase(saleId, Date.now()) === 'drawn';
    await waitFor('drawn, as both instances see it', () => drawnBy(a) && drawnBy(b), 20_000);
    expect(a.t.c.services.draws.drawsRun + b.t.c.services.draws.drawsRun).toBe(1);
    const afterDraw = await ledger(a, saleId);
    expect(afterDraw).toMatchObject({ orders: 3, unleased: 1 });

    // Every entrant won (3 entries, 4 units): each instance knows them as buyers.
    expect(await buyThrough(a, saleId, shoppers[1])).toMatchObject({ code: 'ALREADY_BOUGHT' });
    expect(await buyThrough(b, saleId, shoppers[0])).toMatchObject({ code: 'ALREADY_BOUGHT' });
    const [late] = await createShoppers(a.t.c, 1);
    expect((await buyThrough(b, saleId, late)).status).toBe(202);
    await waitForOrders(a.t.c);
    await waitForOrders(b.t.c);
    expect(await ledger(a, saleId)).toMatchObject({ orders: 4, remaining: 0 });
    expect((await audit(a, saleId)).failures).toEqual([]);
  });

  it('when a shopper is blacklisted, logged out or a sale is edited on one instance, then the other applies it', async () => {
    const saleId = await createSale(a.t.c, { stock: 5, startsInMs: 3600_000 });
    await waitFor('the sale known to b', () => b.t.c.services.book.get(saleId) !== undefined);
    const [eve, sam] = await createShoppers(a.t.c, 2);

    await a.t.c.services.blacklist.add({ userId: eve.id, ip: null, reason: 'test', until: null });
    await waitFor('b applies the blacklist', () => b.t.c.services.blacklist.isBlocked(eve.id, '127.0.0.1', Date.now()));

    await a.t.c.services.generations.revoke(sam.id);
    await waitFor('b applies the revocation', () => b.t.c.services.generations.floor(sam.id) > 0);

    const later = new Date(Date.now() + 7200_000);
    const sale = (await a.t.c.services.catalog.getSale(saleId)) ;
    await a.t.c.services.catalog.updateSale(saleId, { productId: sale.productId, stock: 5, priceCents: sale.priceCents, startsAt: later, endsAt: new Date(later.getTime() + 3600_000) });
    await waitFor('b applies the new start', () => b.t.c.services.book.get(saleId)?.startsAt === later.getTime());
  });
});
