import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { audit } from '../../src/cli/audit';
import { AuditService } from '../../src/services/AuditService';
import { buildTestApp, TestApp, testDatabases } from '../helpers/buildTestApp';

describe.each(testDatabases())('audit on %s', (database) => {
  let t: TestApp;
  let saleId: number;
  let accepted: string[];
  let service: AuditService;
  let dir: string;

  beforeEach(async () => {
    t = await buildTestApp({ database });
    const { repos } = t.c;
    const productId = await repos.products.create({ name: 'Phone', description: '', image: '', priceCents: 100 });
    const now = Date.now();
    saleId = await repos.sales.create({ productId, stock: 5, priceCents: 50, startsAt: new Date(now - 1000), endsAt: new Date(now + 60_000) });
    const users = await repos.users.createMany(
      [1, 2, 3].map((i) => ({ userName: `audit-${i}`, nickName: `A${i}`, passwordHash: '!', role: 'shopper' as const })),
    );
    accepted = users.map(() => randomUUID());
    await repos.orders.writeBatch(users.map((userId, i) => ({ requestId: accepted[i], saleId, userId, at: now })));
    service = new AuditService(repos.sales, repos.orders);
    dir = mkdtempSync(path.join(tmpdir(), 'audit-test-'));
  });

  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  const failed = async (input: Parameters<AuditService['audit']>[0]) =>
    (await service.audit(input)).checks.filter((c) => !c.ok).map((c) => c.name);

  it('when orders were written through the order batch, then every check passes', async () => {
    const report = await service.audit({ saleId, accepted });

    expect(report.ok).toBe(true);
    expect(report.checks).toHaveLength(7);
  });

  it('when an accepted request never became an order, then the audit names it', async () => {
    const lost = randomUUID();

    const report = await service.audit({ saleId, accepted: [...accepted, lost] });

    expect(report.ok).toBe(false);
    expect(report.failures).toEqual([expect.stringContaining(lost)]);
  });

  it('when an order row has no accepted request, then the audit fails', async () => {
    expect(await failed({ saleId, accepted: accepted.slice(1) })).toEqual(['no order row without an accepted request']);
  });

  it('when the stock row disagrees with the orders, then the audit fails', async () => {
    await t.c.dataSource.query('UPDATE flash_sales SET remaining = remaining + 1 WHERE id = ?', [saleId]);

    expect(await failed({ saleId })).toEqual(['orders == initial stock - remaining']);
  });

  it('when more was sold than the stock, then oversell and negative stock are reported', async () => {
    await t.c.dataSource.query('UPDATE flash_sales SET stock = 2, remaining = -1 WHERE id = ?', [saleId]);

    expect(await failed({ saleId })).toEqual(['orders <= initial stock', 'remaining >= 0']);
  });

  it('when run as the CLI with an accepted-ids file, then it prints PASS lines and exits 0', async () => {
    const file = path.join(dir, 'accepted.txt');
    writeFileSync(file, `${accepted.join('\n')}\n`);
    const out = new PassThrough();
    const err = new PassThrough();

    const code = await audit(['--sale', String(saleId), '--accepted', file], t.env, out, err);

    const text = out.read()?.toString() ?? '';
    expect(code).toBe(0);
    expect(text.match(/^  PASS /gm)).toHaveLength(7);
    expect(text).toContain(`audit of sale ${saleId}: ok`);
  });

  it('when run as the CLI and a check fails, then it prints FAIL and exits 1', async () => {
    const file = path.join(dir, 'accepted.txt');
    writeFileSync(file, `${accepted.slice(1).join('\n')}\n${randomUUID()}\n`);
    const out = new PassThrough();

    const code = await audit(['--sale', String(saleId), '--accepted', file], t.env, out, new PassThrough());

    const text = out.read()?.toString() ?? '';
    expect(code).toBe(1);
    expect(text.match(/^  FAIL /gm)).toHaveLength(2);
  });

  it('when the sale id is missing, then the CLI exits 2 with its usage', async () => {
    const err = new PassThrough();

    const code = await audit([], t.env, new PassThrough(), err);

    expect(code).toBe(2);
    expect(err.read()?.toString()).toContain('usage');
  });
});
