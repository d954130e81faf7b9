import type { SaleRecord } from '../../src/repositories/SaleRepository';
import { AuditOrders, AuditSales, AuditService } from '../../src/services/AuditService';

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
