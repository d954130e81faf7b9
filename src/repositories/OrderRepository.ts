// Orders are written in batches: one transaction inserts many rows and takes their units off the stock.
import { Brackets, DataSource, In, QueryRunner, Repository } from 'typeorm';
import { Order, OrderStatus, User } from '../models';
import { isUniqueViolation } from './driverErrors';

export interface NewOrder {
  requestId: string;
  saleId: number;
  userId: number;
  at: number;
  leaseId?: number;
}

export interface OrderRecord {
  id: number;
  requestId: string;
  saleId: number;
  userId: number;
  status: OrderStatus;
  createdAt: Date;
}

/** An order with who placed it, for the admin's list and export. */
export interface OrderWithBuyer extends OrderRecord {
  userName: string;
  nickName: string;
}

/** What became of each order of a batch, by request id. */
export type WriteOutcome = 'inserted' | 'duplicate' | 'conflict';

export class StockExhaustedError extends Error {
  constructor(readonly saleId: number, readonly wanted: number) {
    super(`sale ${saleId} has fewer than ${wanted} units left`);
    this.name = 'StockExhaustedError';
  }
}

export class OrderRepository {
  private readonly repo: Repository<Order>;

  constructor(private readonly dataSource: DataSource) {
    this.repo = dataSource.getRepository(Order);
  }

  /**
   * In one transaction: skip orders already written (same request id: a redelivery), refuse a second order
   * for a (sale, user) pair, insert the rest in one multi-row statement per sale and decrement each sale's
   * remaining stock under a `remaining >= n` guard. Throws StockExhaustedError (and rolls back) when a
   * guard fails, so a bug upstream can never turn into an oversell.
   */
  async writeBatch(orders: NewOrder[]): Promise<Map<string, WriteOutcome>> {
    const unique = new Map<string, NewOrder>();
    for (const o of orders) if (!unique.has(o.requestId)) unique.set(o.requestId, o);
    // Almost every batch is all new orders: write it in four round trips (begin, decrement, insert, commit),
    // and only when a guard says otherwise (a redelivery, a second order) take the careful path.
    const fast = await this.transaction(async (runner) => {
      for (const [saleId, list] of groupBySale(unique.values())) await this.insertRows(runner, saleId, list);
    }).then(
      () => true,
      (err: Error) => {
        // A redelivered order inflates the count, so a failed guard is re-checked on the careful path too.
        if (err instanceof StockExhaustedError || isUniqueViolation(err)) return false;
        throw err;
      },
    );
    const outcome = new Map<string, WriteOutcome>();
    if (fast) {
      for (const o of orders) outcome.set(o.requestId, 'inserted');
      return outcome;
    }
    for (const o of orders) if (unique.get(o.requestId) !== o) outcome.set(o.requestId, 'duplicate');
    await this.transaction(async (runner) => {
      const ids = [...unique.keys()];
      const existing = (await runner.query(
        `SELECT request_id FROM orders WHERE request_id IN (${placeholders(ids.length)})`,
        ids,
      )) as { request_id: string }[];
      for (const row of existing) {
        outcome.set(row.request_id, 'duplicate');
        unique.delete(row.request_id);
      }
      for (const [saleId, list] of groupBySale(unique.values())) {
        await this.insertForSale(runner, saleId, list, outcome);
      }
    });
    return outcome;
  }

  /**
   * The same guarded decrement and insert as a batch, inside a caller's transaction: the draw writes its
   * winners' orders with it, so they take their units exactly as queued orders do.
   */
  insertWithin(runner: QueryRunner, saleId: number, fresh: NewOrder[]): Promise<void> {
    return this.insertRows(runner, saleId, fresh);
  }

  private async transaction(work: (runner: QueryRunner) => Promise<void>): Promise<void> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await work(runner);
      await runner.commitTransaction();
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  private async insertForSale(
    runner: QueryRunner,
    saleId: number,
    list: NewOrder[],
    outcome: Map<string, WriteOutcome>,
  ): Promise<void> {
    const userIds = [...new Set(list.map((o) => o.userId))];
    const taken = (await runner.query(
      `SELECT user_id FROM orders WHERE sale_id = ? AND user_id IN (${placeholders(userIds.length)})`,
      [saleId, ...userIds],
    )) as { user_id: number }[];
    const seen = new Set(taken.map((r) => Number(r.user_id)));
    const fresh: NewOrder[] = [];
    for (const o of list) {
      if (seen.has(o.userId)) {
        outcome.set(o.requestId, 'conflict');
        continue;
      }
      seen.add(o.userId);
      fresh.push(o);
    }
    if (fresh.length === 0) return;
    await this.insertRows(runner, saleId, fresh);
    for (const o of fresh) outcome.set(o.requestId, 'inserted');
  }

  /**
   * Takes the units off the sale under the `remaining >= n` guard, then inserts the rows. Units sold from a
   * lease were taken off `unleased` when it was granted; the others come off it now.
   */
  private async insertRows(runner: QueryRunner, saleId: number, fresh: NewOrder[]): Promise<void> {
    const unleased = fresh.filter((o) => o.leaseId === undefined).length;
    const decrement = await runner.query(
      'UPDATE flash_sales SET remaining = remaining - ?, unleased = unleased - ? WHERE id = ? AND remaining >= ? AND unleased >= ?',
      [fresh.length, unleased, saleId, fresh.length, unleased],
      true,
    );
    if (decrement.affected !== 1) throw new StockExhaustedError(saleId, fresh.length);
    const params: unknown[] = [];
    for (const o of fresh) params.push(o.requestId, o.saleId, o.userId, o.leaseId ?? null, 'confirmed', sqlDateTime(o.at));
    await runner.query(
      `INSERT INTO orders (request_id, sale_id, user_id, lease_id, status, created_at) VALUES ${fresh
        .map(() => '(?, ?, ?, ?, ?, ?)')
        .join(', ')}`,
      params,
    );
  }

  async findByRequestId(requestId: string): Promise<OrderRecord | null> {
    const row = await this.repo.findOneBy({ requestId });
    return row ? toRecord(row) : null;
  }

  async listByUser(userId: number): Promise<OrderRecord[]> {
    return (await this.repo.find({ where: { userId }, order: { id: 'DESC' } })).map(toRecord);
  }

  async listBySale(saleId: number): Promise<OrderRecord[]> {
    return (await this.repo.find({ where: { saleId }, order: { id: 'ASC' } })).map(toRecord);
  }

  /**
   * The sale's orders with their buyers' names, oldest first: those whose order id, request id (prefix), user
   * id, user name or nick name (parts) match `search`, or all; at most `limit`; and how many matched in all.
   */
  async listBySaleWithBuyers(saleId: number, search: string, limit: number): Promise<{ orders: OrderWithBuyer[]; matched: number }> {
    const q = this.repo
      .createQueryBuilder('o')
      .innerJoin(User, 'u', 'u.id = o.userId')
      .where('o.saleId = :saleId', { saleId });
    if (search) {
      const like = (s: string) => s.replace(/[!%_]/g, (c) => `!${c}`);
      const id = /^#?\d{1,9}$/.test(search) ? Number(search.replace('#', '')) : -1;
      q.andWhere(
        new Brackets((b) => {
          b.where("u.userName LIKE :part ESCAPE '!'", { part: `%${like(search)}%` })
            .orWhere("u.nickName LIKE :part ESCAPE '!'")
            .orWhere("o.requestId LIKE :prefix ESCAPE '!'", { prefix: `${like(search)}%` })
            .orWhere('o.id = :id OR o.userId = :id', { id });
        }),
      );
    }
    const matched = await q.getCount();
    const rows = (await q
      .select(['o.id AS id', 'o.requestId AS requestId', 'o.saleId AS saleId', 'o.userId AS userId', 'o.status AS status', 'o.createdAt AS createdAt'])
      .addSelect(['u.userName AS userName', 'u.nickName AS nickName'])
      .orderBy('o.id', 'ASC')
      .limit(limit)
      .getRawMany()) as Record<string, unknown>[];
    const orders = rows.map((r) => ({
      id: Number(r.id),
      requestId: String(r.requestId),
      saleId: Number(r.saleId),
      userId: Number(r.userId),
      status: r.status as OrderStatus,
      createdAt: dateOf(r.createdAt as string | Date),
      userName: String(r.userName),
      nickName: String(r.nickName),
    }));
    return { orders, matched };
  }

  /** User ids that already bought, per sale: the purchase funnel's memory after a restart. */
  async buyersBySale(saleIds: number[]): Promise<Map<number, number[]>> {
    const result = new Map<number, number[]>(saleIds.map((id) => [id, []]));
    if (saleIds.length === 0) return result;
    const rows = await this.repo.find({ select: { saleId: true, userId: true }, where: { saleId: In(saleIds) } });
    for (const row of rows) result.get(row.saleId)?.push(row.userId);
    return result;
  }

  async countBySale(saleId: number): Promise<number> {
    return this.repo.countBy({ saleId });
  }

  /**
   * The sale's orders with an id above `afterId`, and the highest such id (or `afterId` when there are
   * none): a watcher that polls often counts only what is new, by primary key, instead of the whole sale.
   */
  async countBySaleAfter(saleId: number, afterId: number): Promise<{ count: number; lastId: number }> {
    const row = (await this.repo
      .createQueryBuilder('o')
      .select('COUNT(*)', 'count')
      .addSelect('MAX(o.id)', 'lastId')
      .where('o.id > :afterId AND o.saleId = :saleId', { afterId, saleId })
      .getRawOne()) as { count: string | number; lastId: string | number | null } | undefined;
    const count = Number(row?.count ?? 0);
    return { count, lastId: count > 0 && row?.lastId != null ? Number(row.lastId) : afterId };
  }

  /** When the sale's last order was accepted (its created_at, epoch ms), or null without orders. */
  async lastAcceptedAt(saleId: number): Promise<number | null> {
    const row = (await this.repo
      .createQueryBuilder('o')
      .select('MAX(o.createdAt)', 'last')
      .where('o.saleId = :saleId', { saleId })
      .getRawOne()) as { last: string | Date | null } | undefined;
    return row?.last ? dateOf(row.last).getTime() : null;
  }

  async usersWithMoreThanOneOrder(saleId: number): Promise<number[]> {
    const rows = (await this.repo
      .createQueryBuilder('o')
      .select('o.userId', 'userId')
      .where('o.saleId = :saleId', { saleId })
      .groupBy('o.userId')
      .having('COUNT(*) > 1')
      .getRawMany()) as { userId: number }[];
    return rows.map((r) => Number(r.userId));
  }

  async requestIdsBySale(saleId: number): Promise<string[]> {
    const rows = await this.repo.find({ select: { requestId: true }, where: { saleId } });
    return rows.map((r) => r.requestId);
  }
}

function groupBySale(orders: Iterable<NewOrder>): Map<number, NewOrder[]> {
  const bySale = new Map<number, NewOrder[]>();
  for (const o of orders) {
    const list = bySale.get(o.saleId);
    if (list) list.push(o);
    else bySale.set(o.saleId, [o]);
  }
  return bySale;
}

/** UTC 'YYYY-MM-DD HH:MM:SS.mmm': what both drivers store for a datetime(3) column. */
function sqlDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** A datetime(3) read raw: a Date from mysql2 (timezone Z), 'YYYY-MM-DD HH:MM:SS.mmm' (UTC) from SQLite. */
function dateOf(v: string | Date): Date {
  if (v instanceof Date) return v;
  return new Date(/[zZ]$|[+-]\d\d:?\d\d$/.test(v) ? v : `${v.replace(' ', 'T')}Z`);
}

function placeholders(n: number): string {
  return new Array(n).fill('?').join(', ');
}

function toRecord(o: Order): OrderRecord {
  return {
    id: o.id,
    requestId: o.requestId,
    saleId: o.saleId,
    userId: o.userId,
    status: o.status,
    createdAt: new Date(o.createdAt),
  };
}
