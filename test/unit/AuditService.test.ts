import type { SaleRecord } from '../../src/repositories/SaleRepository';
import { drawWinners, newDrawSeed } from '../../src/lib/drawShuffle';
import type { EntryRecord } from '../../src/repositories/DrawRepository';
import { AuditDraws, AuditOrders, AuditSales, AuditService } from '../../src/services/AuditService';

const FIRST_COME = { allocation: 'first_come', drawWindowSeconds: 0, drawCommitment: null, drawSeed: null, drawState: null, drawnAt: null, drawWinners: null } as const;

function sale(stock: number, remaining: number): SaleRecord {
  return { id: 7, productId: 1, stock, remaining, priceCents: 100, startsAt: new Date(0), endsAt: new Date(1), ...FIRST_COME };
}

class FakeSales implements AuditSales {
  constructor(private readonly record: SaleRecord | null) {}
  async findById(id: number) {
    return this.record && this.record.id === id ? this.record : null;
  }
}

class FakeOrders implements AuditOrders {
  constructor(private readonly rows: { requestId: string; userId: number }[]) {}
  async countBySale() {
    return this.rows.length;
  }
  async usersWithMoreThanOneOrder() {
    const seen = new Map<number, number>();
    for (const r of this.rows) seen.set(r.userId, (seen.get(r.userId) ?? 0) + 1);
    return [...seen].filter(([, n]) => n > 1).map(([u]) => u);
  }
  async requestIdsBySale() {
    return this.rows.map((r) => r.requestId);
  }
  async buyersBySale(saleIds: number[]) {
    return new Map(saleIds.map((id) => [id, this.rows.map((r) => r.userId)]));
  }
}

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ requestId: `req-${i}`, userId: i + 1 }));
const failed = (r: { checks: { name: string; ok: boolean }[] }) => r.checks.filter((c) => !c.ok).map((c) => c.name);

describe('AuditService', () => {
  it('when the orders add up and match the accepted ids, then every check passes', async () => {
    const service = new AuditService(new FakeSales(sale(5, 2)), new FakeOrders(rows(3)));

    const report = await service.audit({ saleId: 7, accepted: ['req-0', 'req-1', 'req-2'] });

    expect(report.ok).toBe(true);
    expect(report.failures).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual([
      'the sale exists',
      'orders <= initial stock',
      'orders == initial stock - remaining',
      'remaining >= 0',
      'no shopper with two orders',
      'every accepted request has its order row',
      'no order row without an accepted request',
    ]);
  });

  it('when no accepted ids are given, then only the stock checks run', async () => {
    const report = await new AuditService(new FakeSales(sale(5, 2)), new FakeOrders(rows(3))).audit({ saleId: 7 });

    expect(report.ok).toBe(true);
    expect(report.checks).toHaveLength(5);
  });

  it('when the sale does not exist, then the audit fails', async () => {
    const report = await new AuditService(new FakeSales(null), new FakeOrders([])).audit({ saleId: 7 });

    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(['the sale exists']);
  });

  it('when more orders than stock were written, then the oversell is reported', async () => {
    const report = await new AuditService(new FakeSales(sale(2, -1)), new FakeOrders(rows(3))).audit({ saleId: 7 });

    expect(failed(report)).toEqual(['orders <= initial stock', 'remaining >= 0']);
  });

  it('when the stock left does not match the orders, then that check fails', async () => {
    const report = await new AuditService(new FakeSales(sale(5, 3)), new FakeOrders(rows(3))).audit({ saleId: 7 });

    expect(failed(report)).toEqual(['orders == initial stock - remaining']);
  });

  it('when a shopper has two orders, then the shopper is named', async () => {
    const twice = [...rows(2), { requestId: 'req-x', userId: 1 }];
    const report = await new AuditService(new FakeSales(sale(5, 2)), new FakeOrders(twice)).audit({ saleId: 7 });

    expect(failed(report)).toEqual(['no shopper with two orders']);
    expect(report.failures[0]).toContain('user 1');
  });

  it('when an accepted request has no order and an order was never accepted, then both are reported', async () => {
    const service = new AuditService(new FakeSales(sale(5, 2)), new FakeOrders(rows(3)));

    const report = await service.audit({ saleId: 7, accepted: ['req-0', 'req-1', 'lost'] });

    expect(failed(report)).toEqual(['every accepted request has its order row', 'no order row without an accepted request']);
    expect(report.failures.join('\n')).toContain('lost');
    expect(report.failures.join('\n')).toContain('req-2');
  });

  it('when an order comes from a request whose publish outcome was unknown, then it is not held against the audit', async () => {
    const service = new AuditService(new FakeSales(sale(5, 2)), new FakeOrders(rows(3)));

    const report = await service.audit({ saleId: 7, accepted: ['req-0', 'req-1'], uncertain: ['req-2', 'never-written'] });

    expect(report.ok).toBe(true);
    expect(report.checks[6].detail).toContain('1 of 2 uncertain requests became orders');
  });
});

describe('AuditService on a draw sale', () => {
  const { seed, commitment } = newDrawSeed();
  const entrants = Array.from({ length: 30 }, (_, i) => 100 + i * 3);
  const stock = 10;
  const winners = new Set(drawWinners(seed, entrants, stock));
  const drawn = (over: Partial<SaleRecord> = {}): SaleRecord => ({
    ...sale(stock, 0),
    allocation: 'draw',
    drawWindowSeconds: 10,
    drawCommitment: commitment,
    drawSeed: seed,
    drawState: 'drawn',
    drawnAt: new Date(1),
    drawWinners: stock,
    ...over,
  });
  const entries = (): EntryRecord[] => entrants.map((userId) => ({ userId, outcome: winners.has(userId) ? 'won' : 'lost' }));
  const draws = (list: EntryRecord[]): AuditDraws => ({ entriesOf: async () => list });
  const orders = () => new FakeOrders([...winners].map((userId, i) => ({ requestId: `w-${i}`, userId })));

  it('when the winners are those the revealed seed ranks first and have their orders, then the draw checks pass', async () => {
    const report = await new AuditService(new FakeSales(drawn()), orders(), draws(entries())).audit({ saleId: 7 });
    expect(failed(report)).toEqual([]);
    expect(report.checks.map((c) => c.name)).toContain('winners = min(stock, entries)');
  });

  it('when one loser is marked a winner instead of a true winner, then the recomputation fails', async () => {
    const list = entries();
    const loser = list.find((e) => e.outcome === 'lost')!;
    const winner = list.find((e) => e.outcome === 'won')!;
    loser.outcome = 'won';
    winner.outcome = 'lost';
    const report = await new AuditService(new FakeSales(drawn()), orders(), draws(list)).audit({ saleId: 7 });
    expect(failed(report)).toContain('every entry won (with its order) or lost, as the seed says');
  });

  it('when the revealed seed is not the committed one, then the commitment check fails', async () => {
    const report = await new AuditService(new FakeSales(drawn({ drawCommitment: newDrawSeed().commitment })), orders(), draws(entries())).audit({ saleId: 7 });
    expect(failed(report)).toContain('the revealed seed matches the commitment');
  });

  it('when a winner has no order, then the audit says so', async () => {
    const some = new FakeOrders([...winners].slice(1).map((userId, i) => ({ requestId: `w-${i}`, userId })));
    const report = await new AuditService(new FakeSales(drawn({ remaining: 1 })), some, draws(entries())).audit({ saleId: 7 });
    expect(report.failures.join('\n')).toMatch(/won without an order/);
  });

  it('when fewer entries than units, then all of them win and winners = entries', async () => {
    const few = entrants.slice(0, 4);
    const list: EntryRecord[] = few.map((userId) => ({ userId, outcome: 'won' }));
    const buyers = new FakeOrders(few.map((userId, i) => ({ requestId: `w-${i}`, userId })));
    const report = await new AuditService(new FakeSales(drawn({ remaining: stock - 4, drawWinners: 4 })), buyers, draws(list)).audit({ saleId: 7 });
    expect(failed(report)).toEqual([]);
  });
});
