// What must hold after every fault, once healed and drained: the sale's own invariants (by the app's
// AuditService) and the match between what the shoppers were told and the order rows.
import type { DataSource } from 'typeorm';
import { OrderRepository } from '../../src/repositories/OrderRepository';
import { SaleRepository } from '../../src/repositories/SaleRepository';
import { AuditService } from '../../src/services/AuditService';
import type { LoadClient } from './load';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export function check(name: string, ok: boolean, detail: string): Check {
  return { name, ok, detail };
}

export interface Figures {
  accepted: number;
  refused: number;
  unknown: number;
  orders: number;
  /** Accepted requests without an order row. */
  lost: number;
  /** Order rows beyond one per request id and one per shopper. */
  duplicated: number;
  /** Order rows beyond the stock. */
  oversold: number;
  /** Shoppers told "accepted" (202) more than once. */
  double202: number;
  /** Units left unsold although shoppers were still refused SOLD_OUT (several instances: a slice kept from them). */
  stranded: number;
}

const SHOWN = 5;
const shown = (xs: (string | number)[]) => xs.slice(0, SHOWN).join(', ') + (xs.length > SHOWN ? ', ...' : '');

/** `cluster`: several instances sold the sale, so units held in one instance's slice count as stranded. */
export async function verifySale(ds: DataSource, saleId: number, load: LoadClient, cluster = false): Promise<{ checks: Check[]; figures: Figures }> {
  const orders = new OrderRepository(ds);
  const audit = await new AuditService(new SaleRepository(ds), orders).audit({ saleId });
  const checks: Check[] = audit.checks.map((c) => check(c.name, c.ok, c.detail));
  const rows = await orders.listBySale(saleId);
  const sale = await new SaleRepository(ds).findById(saleId);
  const stock = sale?.stock ?? 0;
  const soldOutTold = (load.refusedByCode.SOLD_OUT ?? 0) > 0;

  const rowsByRequest = new Map<string, number>();
  const rowsByUser = new Map<number, number>();
  for (const r of rows) {
    rowsByRequest.set(r.requestId, (rowsByRequest.get(r.requestId) ?? 0) + 1);
    rowsByUser.set(r.userId, (rowsByUser.get(r.userId) ?? 0) + 1);
  }

  const lost: string[] = [];
  const twice: string[] = [];
  for (const id of load.accepted.keys()) {
    const n = rowsByRequest.get(id) ?? 0;
    if (n === 0) lost.push(id);
    else if (n > 1) twice.push(id);
  }
  let duplicated = 0;
  for (const n of rowsByRequest.values()) duplicated += n - 1;
  for (const n of rowsByUser.values()) duplicated += n - 1;

  // Rows the shoppers were not told about: each must come from a request whose answer was unknown.
  const notAccepted = rows.filter((r) => !load.accepted.has(r.requestId));
  const unexplainedById = notAccepted.filter((r) => !load.uncertain.has(r.requestId));
  const orphans = unexplainedById.filter((r) => !load.unknownUsers.has(r.userId));
  const unknown = load.counts.unknown;

  checks.push(
    check(
      'every accepted request has exactly one order row',
      lost.length === 0 && twice.length === 0,
      lost.length + twice.length === 0
        ? `${load.accepted.size} accepted, each written once`
        : `${lost.length} accepted without a row (e.g. ${shown(lost)}), ${twice.length} with more than one`,
    ),
    check(
      'no order row without an accepted or unknown request',
      notAccepted.length <= unknown && unexplainedById.length <= load.counts.unknownWithoutId && orphans.length === 0,
      `${notAccepted.length} rows not in the accepted set (<= ${unknown} unknown); ` +
        `${notAccepted.length - unexplainedById.length} of them are 503s with their request id, ` +
        `${unexplainedById.length} match none (<= ${load.counts.unknownWithoutId} answerless requests)` +
        (orphans.length ? `; ${orphans.length} belong to shoppers who never had an unknown answer, e.g. ${shown(orphans.map((o) => o.requestId))}` : ''),
    ),
    check(
      'no shopper told "accepted" twice',
      load.acceptedTwice.size === 0,
      load.acceptedTwice.size === 0 ? 'one 202 at most per shopper' : `${load.acceptedTwice.size} shoppers, e.g. user ${shown([...load.acceptedTwice])}`,
    ),
  );
  if (cluster) {
    checks.push(
      check(
        'no unit left unsold while shoppers were told SOLD_OUT',
        !soldOutTold || rows.length >= stock,
        soldOutTold ? `${rows.length} of ${stock} sold; SOLD_OUT told ${load.refusedByCode.SOLD_OUT} times` : 'nobody was told SOLD_OUT',
      ),
    );
  }

  return {
    checks,
    figures: {
      accepted: load.counts.accepted,
      refused: load.counts.refused,
      unknown,
      orders: rows.length,
      lost: lost.length,
      duplicated,
      oversold: Math.max(0, rows.length - stock),
      double202: load.acceptedTwice.size,
      stranded: soldOutTold ? Math.max(0, stock - rows.length) : 0,
    },
  };
}

export interface ScenarioResult {
  n: number;
  name: string;
  figures: Figures | null;
  checks: Check[];
  ms: number;
  /** Part of ms spent waiting for other runs on the shared services. */
  waitedMs: number;
  notes: string[];
  /** Not run to the end because another run took the shared services; worth another try. */
  busy?: boolean;
}

export function passed(r: ScenarioResult): boolean {
  return r.figures !== null && r.checks.length > 0 && r.checks.every((c) => c.ok);
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** One line per scenario: the figures the issue asks for, then PASS or FAIL. */
export function formatTable(results: ScenarioResult[]): string {
  const head = ['scenario', 'accepted', 'refused', 'unknown', 'orders', 'lost', 'duplicated', 'oversold', 'double-202', 'stranded', 'time', 'result'];
  const rows = results.map((r) => {
    const f = r.figures;
    const cell = (x: number | undefined) => (x === undefined ? '-' : fmt(x));
    return [
      `${r.n}. ${r.name}`,
      cell(f?.accepted),
      cell(f?.refused),
      cell(f?.unknown),
      cell(f?.orders),
      cell(f?.lost),
      cell(f?.duplicated),
      cell(f?.oversold),
      cell(f?.double202),
      cell(f?.stranded),
      `${((r.ms - r.waitedMs) / 1000).toFixed(1)} s`,
      passed(r) ? 'PASS' : 'FAIL',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatChecks(r: ScenarioResult): string {
  return r.checks.map((c) => `    ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}  (${c.detail})`).join('\n');
}
