// A sale's invariants checked against the database: nothing oversold, nothing lost, nobody served twice.
// Read-only; used by `npm run audit` and at the end of `npm run bench`.
import { drawWinners, seedMatches } from '../lib/drawShuffle';
import type { DrawRepository } from '../repositories/DrawRepository';
import type { OrderRepository } from '../repositories/OrderRepository';
import type { SaleRecord, SaleRepository } from '../repositories/SaleRepository';

export interface AuditCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface AuditReport {
  saleId: number;
  ok: boolean;
  checks: AuditCheck[];
  /** `name: detail` of every failed check; empty when ok. */
  failures: string[];
}

export interface AuditInput {
  saleId: number;
  /** Request ids the shop answered 202 for. When given, they are matched one to one with order rows. */
  accepted?: Iterable<string>;
  /**
   * Request ids whose publish outcome was unknown (503 with a request id): each may or may not have
   * become an order, so neither a row nor its absence counts against the audit.
   */
  uncertain?: Iterable<string>;
}

export type AuditSales = Pick<SaleRepository, 'findById'> & Partial<Pick<SaleRepository, 'leaseLedger'>>;
export type AuditOrders = Pick<OrderRepository, 'countBySale' | 'usersWithMoreThanOneOrder' | 'requestIdsBySale' | 'buyersBySale'>;
export type AuditDraws = Pick<DrawRepository, 'entriesOf'>;

const SHOWN = 5;

export class AuditService {
  constructor(
    private readonly sales: AuditSales,
    private readonly orders: AuditOrders,
    private readonly draws?: AuditDraws,
  ) {}

  async audit(input: AuditInput): Promise<AuditReport> {
    const { saleId } = input;
    const checks: AuditCheck[] = [];
    const sale = await this.sales.findById(saleId);
    checks.push(check('the sale exists', sale !== null, sale ? `sale ${saleId}` : `no sale with id ${saleId}`));
    if (sale) {
      const orders = await this.orders.countBySale(saleId);
      const sold = sale.stock - sale.remaining;
      checks.push(
        check('orders <= initial stock', orders <= sale.stock, `${orders} orders, initial stock ${sale.stock}`),
        check(
          'orders == initial stock - remaining',
          orders === sold,
          `${orders} orders, ${sale.stock} - ${sale.remaining} = ${sold}`,
        ),
        check('remaining >= 0', sale.remaining >= 0, `remaining ${sale.remaining}`),
      );
      const ledger = this.sales.leaseLedger ? await this.sales.leaseLedger(saleId) : null;
      if (ledger) {
        const total = ledger.orders + ledger.unleased + ledger.held;
        checks.push(
          check(
            'leases balance: orders + unleased + held by instances == initial stock',
            total === sale.stock && ledger.held >= 0 && ledger.unleased >= 0,
            `${ledger.orders} + ${ledger.unleased} + ${ledger.held} = ${total}, initial stock ${sale.stock} (${ledger.leases} leases)`,
          ),
          check(
            'every ended lease: granted == written from it + given back',
            ledger.unbalanced.length === 0,
            ledger.unbalanced.length === 0 ? 'all balance' : `leases ${shown(ledger.unbalanced.map(String))} do not`,
          ),
        );
      }
      const twice = await this.orders.usersWithMoreThanOneOrder(saleId);
      checks.push(
        check(
          'no shopper with two orders',
          twice.length === 0,
          twice.length === 0 ? 'every shopper has at most one order' : `${twice.length} shoppers, e.g. user ${shown(twice.map(String))}`,
        ),
      );
      if (sale.allocation === 'draw' && this.draws) checks.push(...(await this.checkDraw(sale, this.draws)));
      if (input.accepted !== undefined) checks.push(...(await this.matchAccepted(saleId, input.accepted, input.uncertain)));
    }
    const failures = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    return { saleId, ok: failures.length === 0, checks, failures };
  }

  /**
   * A draw sale, recomputed from its revealed seed: the seed is the one committed to, the winners are the
   * first min(stock, entries) of the entries ranked by HMAC-SHA256(seed, user id), every entry is marked won
   * (and has its order) or lost (and has none). Before the draw: no entry has an outcome yet.
   */
  private async checkDraw(sale: SaleRecord, draws: AuditDraws): Promise<AuditCheck[]> {
    const entries = await draws.entriesOf(sale.id);
    if (sale.drawState !== 'drawn' || !sale.drawSeed) {
      const decided = entries.filter((e) => e.outcome !== null).length;
      return [check('draw not run yet: no entry decided', decided === 0, `${entries.length} entries, ${decided} with an outcome`)];
    }
    const seed = sale.drawSeed;
    const expected = new Set(drawWinners(seed, entries.map((e) => e.userId), sale.stock));
    const buyers = new Set((await this.orders.buyersBySale([sale.id])).get(sale.id) ?? []);
    const wrong: string[] = [];
    let won = 0;
    for (const e of entries) {
      if (e.outcome === 'won') won += 1;
      const shouldWin = expected.has(e.userId);
      if (e.outcome !== (shouldWin ? 'won' : 'lost')) wrong.push(`user ${e.userId} marked ${e.outcome ?? 'undecided'}, should have ${shouldWin ? 'won' : 'lost'}`);
      else if (shouldWin !== buyers.has(e.userId)) wrong.push(`user ${e.userId} ${shouldWin ? 'won without an order' : 'lost but has an order'}`);
    }
    const want = Math.min(sale.stock, entries.length);
    return [
      check('the revealed seed matches the commitment', sale.drawCommitment !== null && seedMatches(seed, sale.drawCommitment), `commitment ${sale.drawCommitment}`),
      check('winners = min(stock, entries)', won === want && expected.size === want && sale.drawWinners === want, `${won} won, ${entries.length} entries, stock ${sale.stock}, recorded ${sale.drawWinners}`),
      check(
        'every entry won (with its order) or lost, as the seed says',
        wrong.length === 0,
        wrong.length === 0 ? `${entries.length} entries recomputed from the seed` : `${wrong.length} entries differ, e.g. ${shown(wrong)}`,
      ),
    ];
  }

  private async matchAccepted(saleId: number, acceptedIds: Iterable<string>, uncertainIds?: Iterable<string>): Promise<AuditCheck[]> {
    const accepted = new Set(acceptedIds);
    const uncertain = new Set(uncertainIds ?? []);
    const rows = new Set(await this.orders.requestIdsBySale(saleId));
    const missing: string[] = [];
    for (const id of accepted) if (!rows.has(id)) missing.push(id);
    const unexplained: string[] = [];
    let uncertainWritten = 0;
    for (const id of rows) {
      if (accepted.has(id)) continue;
      if (uncertain.has(id)) uncertainWritten += 1;
      else unexplained.push(id);
    }
    const extra = uncertain.size > 0 ? `; ${uncertainWritten} of ${uncertain.size} uncertain requests became orders` : '';
    return [
      check(
        'every accepted request has its order row',
        missing.length === 0,
        missing.length === 0
          ? `${accepted.size} accepted, all written`
          : `${missing.length} of ${accepted.size} accepted requests have no order, e.g. ${shown(missing)}`,
      ),
      check(
        'no order row without an accepted request',
        unexplained.length === 0,
        unexplained.length === 0
          ? `${rows.size} order rows, all accepted${extra}`
          : `${unexplained.length} of ${rows.size} order rows were never accepted, e.g. ${shown(unexplained)}${extra}`,
      ),
    ];
  }
}

function check(name: string, ok: boolean, detail: string): AuditCheck {
  return { name, ok, detail };
}

function shown(items: string[]): string {
  return items.slice(0, SHOWN).join(', ') + (items.length > SHOWN ? ', ...' : '');
}
