// A draw sale's entries and the draw itself. The draw runs in one transaction that first claims the sale
// (`draw_state` 'open' -> 'drawn', a conditional update only one caller can win), then writes the winners'
// orders and every entry's outcome: whichever process runs it, and however often, it happens once, and a
// crash before the commit leaves the sale 'open' for the next attempt.
import { randomUUID } from 'node:crypto';
import type { DataSource, QueryRunner } from 'typeorm';
import { DrawEntry, DrawOutcome } from '../models';
import { isUniqueViolation } from './driverErrors';
import type { NewOrder, OrderRepository } from './OrderRepository';

export type EntryResult = 'entered' | 'duplicate' | 'closed';

export interface EntryRecord {
  userId: number;
  outcome: DrawOutcome | null;
}

/** What the draw chose: its winners from the entries (user ids, in canonical order), the seed and the units left. */
export type ChooseWinners = (seed: string, entries: number[], units: number) => number[] | Promise<number[]>;

export interface DrawResult {
  entries: number;
  winners: number;
}

/** Rows per statement when the draw writes orders and outcomes. */
const CHUNK = 1000;

export class DrawRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly orders: Pick<OrderRepository, 'insertWithin'>,
  ) {}

  private get mysql(): boolean {
    return this.dataSource.options.type === 'mysql';
  }

  /**
   * Writes the shopper's entry, only while the sale's draw is still open: the insert reads the sale's row
   * under a shared lock, so it either commits before the draw claims the sale (and is drawn) or sees it drawn.
   */
  async enter(saleId: number, userId: number, at: number): Promise<EntryResult> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(
        `INSERT INTO draw_entries (sale_id, user_id, created_at) SELECT ?, ?, ? FROM flash_sales WHERE id = ? AND draw_state = 'open'${
          this.mysql ? ' LOCK IN SHARE MODE' : ''
        }`,
        [saleId, userId, sqlDateTime(at), saleId],
        true,
      );
      return result.affected === 1 ? 'entered' : 'closed';
    } catch (err) {
      if (isUniqueViolation(err)) return 'duplicate';
      throw err;
    } finally {
      await runner.release();
    }
  }

  /** The sale's entries by user id; raw rows, since a draw may have hundreds of thousands of them. */
  async entriesOf(saleId: number): Promise<EntryRecord[]> {
    const rows = (await this.dataSource.query('SELECT user_id, outcome FROM draw_entries WHERE sale_id = ? ORDER BY user_id', [saleId])) as {
      user_id: number;
      outcome: DrawOutcome | null;
    }[];
    return rows.map((r) => ({ userId: Number(r.user_id), outcome: r.outcome ?? null }));
  }

  async countEntries(saleId: number): Promise<number> {
    return this.dataSource.getRepository(DrawEntry).countBy({ saleId });
  }

  /**
   * Runs the sale's draw if nobody has: null when it was already drawn (here or by another process), else how
   * many entries and winners. `choose` gets the entries in canonical order (by user id) and the units left.
   * The winners are chosen before the transaction (choosing a large draw takes a while and gives the event
   * loop back meanwhile, which must not happen inside a transaction on SQLite's one shared connection); the
   * transaction then claims the sale and checks that the entries it chose from are still all there are,
   * else it gives the claim back and chooses again.
   */
  async draw(saleId: number, now: number, choose: ChooseWinners): Promise<DrawResult | null> {
    for (;;) {
      const [sale] = (await this.dataSource.query('SELECT draw_state, draw_seed, remaining FROM flash_sales WHERE id = ?', [saleId])) as {
        draw_state: string | null;
        draw_seed: string;
        remaining: number;
      }[];
      if (!sale || sale.draw_state !== 'open') return null;
      const rows = (await this.dataSource.query('SELECT id, user_id FROM draw_entries WHERE sale_id = ? ORDER BY user_id', [saleId])) as { id: number; user_id: number }[];
      const entries = rows.map((r) => Number(r.user_id));
      const lastId = rows.reduce((m, r) => Math.max(m, Number(r.id)), 0);
      const winners = await choose(sale.draw_seed, entries, Number(sale.remaining));
      const outcome = await this.commitDraw(saleId, now, winners, { count: entries.length, lastId, remaining: Number(sale.remaining) });
      if (outcome === 'changed') continue;
      return outcome === 'taken' ? null : { entries: entries.length, winners: winners.length };
    }
  }

  private async commitDraw(
    saleId: number,
    now: number,
    winners: number[],
    seen: { count: number; lastId: number; remaining: number },
  ): Promise<'drawn' | 'taken' | 'changed'> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const claim = await runner.query(
        "UPDATE flash_sales SET draw_state = 'drawn', drawn_at = ? WHERE id = ? AND draw_state = 'open'",
        [sqlDateTime(now), saleId],
        true,
      );
      if (claim.affected !== 1) {
        await runner.rollbackTransaction();
        return 'taken';
      }
      // After the claim no entry can be added: the same count and last id mean the same entries.
      const [current] = (await runner.query(
        'SELECT COUNT(*) AS n, COALESCE(MAX(e.id), 0) AS last, (SELECT remaining FROM flash_sales WHERE id = ?) AS remaining FROM draw_entries e WHERE e.sale_id = ?',
        [saleId, saleId],
      )) as { n: number; last: number; remaining: number }[];
      if (Number(current.n) !== seen.count || Number(current.last) !== seen.lastId || Number(current.remaining) !== seen.remaining) {
        await runner.rollbackTransaction();
        return 'changed';
      }
      await runner.query("UPDATE draw_entries SET outcome = 'lost' WHERE sale_id = ?", [saleId]);
      for (let i = 0; i < winners.length; i += CHUNK) await this.writeWinners(runner, saleId, winners.slice(i, i + CHUNK), now);
      await runner.query('UPDATE flash_sales SET draw_winners = ? WHERE id = ?', [winners.length, saleId]);
      await runner.commitTransaction();
      return 'drawn';
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  private async writeWinners(runner: QueryRunner, saleId: number, userIds: number[], now: number): Promise<void> {
    await runner.query(
      `UPDATE draw_entries SET outcome = 'won' WHERE sale_id = ? AND user_id IN (${userIds.map(() => '?').join(', ')})`,
      [saleId, ...userIds],
    );
    const orders: NewOrder[] = userIds.map((userId) => ({ requestId: randomUUID(), saleId, userId, at: now }));
    await this.orders.insertWithin(runner, saleId, orders);
  }
}

/** UTC 'YYYY-MM-DD HH:MM:SS.mmm': what both drivers store for a datetime(3) column. */
function sqlDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}
