// Draw sales over HTTP on the real back-ends: entries written before their 202, one per shopper, the draw at
// the window's end exactly once (also with two app containers on one database), entries kept across a
// restart, winners' orders written, losers told, leftover sold first come, and the audit recomputing it all.
import { PassThrough } from 'node:stream';
import { audit } from '../../src/cli/audit';
import type { Container } from '../../src/container';
import { drawWinners } from '../../src/lib/drawShuffle';
import { buildTestApp, TestApp, testBackends } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, createSale, createShoppers, Shopper, waitForOrders } from '../helpers/shoppers';
import { waitFor } from '../helpers/waitFor';

/** A draw sale opened half a second ago whose entries close `windowSeconds` after its opening. */
async function drawSale(c: Container, stock: number, windowSeconds = 4): Promise<{ saleId: number; drawAt: number }> {
  const saleId = await createSale(c, { stock, startsInMs: -500, drawWindowSeconds: windowSeconds });
  const sale = (await c.repos.sales.findById(saleId))!;
  return { saleId, drawAt: sale.startsAt.getTime() + windowSeconds * 1000 };
}

/** The sale page's JSON state for a shopper. */
async function stateOf(base: string, saleId: number, shopper: Shopper) {
  const res = await fetch(`${base}/api/sales/${saleId}`, { headers: { Cookie: shopper.cookie, Accept: 'application/json' } });
  return (await res.json()) as { left: number; bought: boolean; draw: { entry: string; phase: string; seed: string | null; commitment: string; at: number } };
}

async function auditSale(env: Record<string, string>, saleId: number) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (b: Buffer) => chunks.push(b));
  const code = await audit(['--sale', String(saleId), '--json'], { DATABASE_URL: env.DATABASE_URL }, out, err);
  return { code, report: JSON.parse(Buffer.concat(chunks).toString()) as { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] } };
}

const drawn = (c: Container, saleId: number) => () => c.services.book.drawPhase(saleId, Date.now()) === 'drawn';

describe.each(testBackends())('draw sales on $database + $queue', (backend) => {
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

  it('when shoppers enter within the window, then each gets 202 ENTERED once, the draw runs at its end, winners get orders and losers are told', async () => {
    const { saleId, drawAt } = await drawSale(t.c, 5);
    const shoppers = await createShoppers(t.c, 12);
    const before = await stateOf(server.base, saleId, shoppers[0]);
    expect(before.draw).toMatchObject({ entry: 'none', phase: 'entering', seed: null, at: drawAt });
    expect(before.draw.commitment).toMatch(/^[0-9a-f]{64}$/);

    const first = await Promise.all(shoppers.map((s) => buy(server.base, t.c, saleId, s)));
    expect(first.map((r) => `${r.status} ${r.code}`)).toEqual(shoppers.map(() => '202 ENTERED'));
    // Durable before the answer: every entry is a row by the time its 202 arrived.
    expect(await t.c.repos.draws.countEntries(saleId)).toBe(12);
    const again = await buy(server.base, t.c, saleId, shoppers[3]);
    expect([again.status, again.code]).toEqual([409, 'ALREADY_ENTERED']);
    expect((await stateOf(server.base, saleId, shoppers[3])).draw.entry).toBe('entered');
    expect(await t.c.repos.orders.countBySale(saleId)).toBe(0);

    await waitFor('the draw at the end of the window', drawn(t.c, saleId), 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(drawAt);
    expect(t.c.services.draws.drawsRun).toBe(1);
    const orders = await t.c.repos.orders.listBySale(saleId);
    expect(orders).toHaveLength(5);
    const states = await Promise.all(shoppers.map((s) => stateOf(server.base, saleId, s)));
    const winners = shoppers.filter((_, i) => states[i].draw.entry === 'won');
    expect(winners).toHaveLength(5);
    expect(states.filter((s) => s.draw.entry === 'lost')).toHaveLength(7);
    expect(new Set(orders.map((o) => o.userId))).toEqual(new Set(winners.map((w) => w.id)));
    expect(states.every((s) => s.draw.seed !== null && s.draw.phase === 'drawn')).toBe(true);
    const sale = (await t.c.repos.sales.findById(saleId))!;
    expect(sale).toMatchObject({ remaining: 0, drawState: 'drawn', drawWinners: 5 });

    // After the draw a loser is told sold out, a winner already bought.
    const loser = shoppers.find((_, i) => states[i].draw.entry === 'lost')!;
    expect((await buy(server.base, t.c, saleId, loser)).code).toBe('SOLD_OUT');

    const { code, report } = await auditSale(t.env, saleId);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(code).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['the revealed seed matches the commitment', 'winners = min(stock, entries)', 'every entry won (with its order) or lost, as the seed says']),
    );
  });

  it('when fewer shoppers enter than units, then all win and what is left sells first come afterwards', async () => {
    const { saleId } = await drawSale(t.c, 10, 3);
    const shoppers = await createShoppers(t.c, 5);
    const entries = await Promise.all(shoppers.slice(0, 3).map((s) => buy(server.base, t.c, saleId, s)));
    expect(entries.every((r) => r.code === 'ENTERED')).toBe(true);

    await waitFor('the draw', drawn(t.c, saleId), 20_000);
    expect(await t.c.repos.orders.countBySale(saleId)).toBe(3);
    const late = await Promise.all(shoppers.slice(3).map((s) => buy(server.base, t.c, saleId, s)));
    expect(late.map((r) => `${r.status} ${r.code}`)).toEqual(['202 ACCEPTED', '202 ACCEPTED']);
    const winner = await buy(server.base, t.c, saleId, shoppers[0]);
    expect(winner.code).toBe('ALREADY_BOUGHT');
    await waitForOrders(t.c);
    expect(await t.c.repos.orders.countBySale(saleId)).toBe(5);
    expect((await t.c.repos.sales.findById(saleId))!.remaining).toBe(5);
    const { code, report } = await auditSale(t.env, saleId);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(code).toBe(0);
  });

  it('when the app restarts in the middle of the window, then the entries are kept, a second entry is still refused and the draw counts them all', async () => {
    const { saleId } = await drawSale(t.c, 2, 6);
    const shoppers = await createShoppers(t.c, 4);
    const entered = await Promise.all(shoppers.slice(0, 3).map((s) => buy(server.base, t.c, saleId, s)));
    expect(entered.every((r) => r.code === 'ENTERED')).toBe(true);

    await server.close();
    await t.stop();
    t = await buildTestApp({ ...backend, reuse: t });
    server = await listen(t.app);

    expect(t.c.services.book.draws.entries(saleId)).toBe(3);
    expect((await buy(server.base, t.c, saleId, shoppers[1])).code).toBe('ALREADY_ENTERED');
    expect((await buy(server.base, t.c, saleId, shoppers[3])).code).toBe('ENTERED');
    await waitFor('the draw after the restart', drawn(t.c, saleId), 20_000);
    const entries = await t.c.repos.draws.entriesOf(saleId);
    expect(entries.map((e) => e.userId).sort()).toEqual(shoppers.map((s) => s.id).sort());
    expect(entries.filter((e) => e.outcome === 'won')).toHaveLength(2);
    expect(await t.c.repos.orders.countBySale(saleId)).toBe(2);
    expect((await auditSale(t.env, saleId)).code).toBe(0);
  });

  it('when two app containers share the database and race to draw, then the draw happens once and both know its outcome', async () => {
    const { saleId } = await drawSale(t.c, 3, 5);
    const other = await buildTestApp({ ...backend, reuse: t, env: {} });
    const otherServer = await listen(other.app);
    try {
      // The second container learns of the sale from the database, as one started after it was made does.
      expect(other.c.services.book.drawPhase(saleId, Date.now())).toBe('entering');
      const shoppers = await createShoppers(t.c, 8);
      const results = await Promise.all(shoppers.map((s, i) => buy(i % 2 ? otherServer.base : server.base, i % 2 ? other.c : t.c, saleId, s)));
      expect(results.every((r) => r.code === 'ENTERED')).toBe(true);
      // Entered on one container, refused on the other by the unique row.
      expect((await buy(otherServer.base, other.c, saleId, shoppers[0])).code).toBe('ALREADY_ENTERED');

      await waitFor('both containers know the draw', () => drawn(t.c, saleId)() && drawn(other.c, saleId)(), 20_000);
      expect(t.c.services.draws.drawsRun + other.c.services.draws.drawsRun).toBe(1);
      expect(await t.c.repos.orders.countBySale(saleId)).toBe(3);
      for (const c of [t.c, other.c]) expect(c.services.book.inventory.isSoldOut(saleId)).toBe(true);
      const won = (await t.c.repos.draws.entriesOf(saleId)).filter((e) => e.outcome === 'won').map((e) => e.userId);
      for (const id of won) expect(other.c.services.book.draws.entryState(saleId, id)).toBe('won');
      expect((await auditSale(t.env, saleId)).code).toBe(0);
    } finally {
      await otherServer.close();
      await other.stop();
    }
  });

  it('when an entry is written while the winners are being chosen, then the draw chooses again with it; once drawn, entries are closed', async () => {
    const { saleId } = await drawSale(t.c, 1, 600);
    const shoppers = await createShoppers(t.c, 4);
    const draws = t.c.repos.draws;
    for (const s of shoppers.slice(0, 2)) expect(await draws.enter(saleId, s.id, Date.now())).toBe('entered');
    expect(await draws.enter(saleId, shoppers[0].id, Date.now())).toBe('duplicate');
    const chosenFrom: number[][] = [];
    const result = await draws.draw(saleId, Date.now(), async (seed, entries, units) => {
      chosenFrom.push(entries);
      if (chosenFrom.length === 1) await draws.enter(saleId, shoppers[2].id, Date.now());
      return drawWinners(seed, entries, units);
    });
    expect(chosenFrom.map((e) => e.length)).toEqual([2, 3]);
    expect(result).toEqual({ entries: 3, winners: 1 });
    expect(await draws.draw(saleId, Date.now(), drawWinners)).toBeNull();
    expect(await draws.enter(saleId, shoppers[3].id, Date.now())).toBe('closed');
    expect(await t.c.repos.orders.countBySale(saleId)).toBe(1);
  });
});
