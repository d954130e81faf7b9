// The stock authority when several instances share a sale (docs/CLUSTER.md): MariaDB rows changed under
// conditions, so that two instances can never both take the same units. Durable, unlike this machine's Redis,
// so a restart of the authority forgets no lease. Times are the database's clock, the one all instances share.
import type { DataSource, QueryRunner } from 'typeorm';

export interface LeaseRow {
  id: number;
  saleId: number;
  instanceId: string;
  granted: number;
  expiresAt: number;
}

export interface Grant {
  leaseId: number;
  /** Units added to the lease by this call (0 when nothing was left). */
  took: number;
  /** Units left unleased after it. */
  unleasedLeft: number;
}

export class LeaseFencedError extends Error {
  constructor(readonly leaseId: number) {
    super(`lease ${leaseId} is no longer active`);
  }
}

const NOW_MS = 'CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)';

export class LeaseRepository {
  /**
   * Calls to the authority (a transaction or a statement), for the bench's figures: `stock` moves units (take,
   * give back, return, reclaim), `heartbeat` keeps time (renewals, membership, expiry checks) whatever the
   * shoppers do.
   */
  readonly ops = { stock: 0, heartbeat: 0 };

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Takes up to `want` units off the sale's unleased stock into the instance's lease (a new one when
   * `leaseId` is null), and renews it. Throws LeaseFencedError when that lease was reclaimed or returned.
   */
  async take(saleId: number, instanceId: string, leaseId: number | null, want: number, ttlMs: number): Promise<Grant> {
    return this.transaction(async (q) => {
      const [sale] = (await q.query('SELECT unleased FROM flash_sales WHERE id = ? FOR UPDATE', [saleId])) as { unleased: number }[];
      const unleased = sale ? Number(sale.unleased) : 0;
      const took = Math.max(0, Math.min(want, unleased));
      if (took > 0) await q.query('UPDATE flash_sales SET unleased = unleased - ? WHERE id = ?', [took, saleId]);
      let id = leaseId;
      if (id === null) {
        const result = await q.query(
          `INSERT INTO stock_leases (sale_id, instance_id, granted, state, expires_at) VALUES (?, ?, ?, 'active', ${NOW_MS} + ?)`,
          [saleId, instanceId, took, ttlMs],
        );
        id = Number(result.insertId);
      } else {
        const result = await q.query(
          `UPDATE stock_leases SET granted = granted + ?, expires_at = ${NOW_MS} + ? WHERE id = ? AND state = 'active'`,
          [took, ttlMs, id],
          true,
        );
        if (result.affected !== 1) throw new LeaseFencedError(id);
      }
      return { leaseId: id, took, unleasedLeft: unleased - took };
    });
  }

  /**
   * The instance's heartbeat: extends its membership and every active lease of it; resolves with the ids
   * still active (the others were reclaimed). `known`: the leases the instance believes it holds; the ids
   * are read back only when the renewal touched fewer.
   */
  async renew(instanceId: string, ttlMs: number, known: number[]): Promise<number[]> {
    this.ops.heartbeat += 2;
    await this.dataSource.query(
      `INSERT INTO cluster_members (incarnation, expires_at) VALUES (?, ${NOW_MS} + ?) ON DUPLICATE KEY UPDATE expires_at = VALUES(expires_at)`,
      [instanceId, ttlMs],
    );
    const result = (await this.dataSource.query(
      `UPDATE stock_leases SET expires_at = ${NOW_MS} + ? WHERE instance_id = ? AND state = 'active'`,
      [ttlMs, instanceId],
    )) as { affectedRows?: number };
    if (result.affectedRows === known.length) return known;
    this.ops.heartbeat += 1;
    const rows = (await this.dataSource.query(`SELECT id FROM stock_leases WHERE instance_id = ? AND state = 'active'`, [instanceId])) as { id: number }[];
    return rows.map((r) => Number(r.id));
  }

  /** The instances alive (incarnations), and whether any active lease has expired (then `expired()` tells which), in one call. */
  async census(): Promise<{ members: string[]; expired: number }> {
    this.ops.heartbeat += 1;
    const rows = (await this.dataSource.query(
      `SELECT incarnation, (SELECT COUNT(*) FROM stock_leases WHERE state = 'active' AND expires_at < ${NOW_MS}) AS expired FROM cluster_members WHERE expires_at > ${NOW_MS}`,
    )) as { incarnation: string; expired: number }[];
    return { members: rows.map((r) => r.incarnation), expired: Number(rows[0]?.expired ?? 0) };
  }


  /** Gives `units` of an active lease back to the sale's unleased stock (units the instance will not sell). */
  async giveBack(leaseId: number, units: number): Promise<boolean> {
    return this.transaction(async (q) => {
      const result = await q.query(
        `UPDATE stock_leases SET granted = granted - ? WHERE id = ? AND state = 'active' AND granted >= ?`,
        [units, leaseId, units],
        true,
      );
      if (result.affected !== 1) return false;
      await q.query('UPDATE flash_sales SET unleased = unleased + ? WHERE id = (SELECT sale_id FROM stock_leases WHERE id = ?)', [units, leaseId]);
      return true;
    });
  }

  /**
   * Ends a lease and puts its unsold units back: granted minus the orders written from it. Only for a lease
   * whose every accepted order is written: by its instance after its own drain (`returned`), or by another
   * once it has expired `graceMs` ago and the queue was drained since (`reclaimed`). Resolves with the units
   * put back, or null when the lease was no longer active (or not yet expired enough).
   */
  async close(leaseId: number, as: 'returned' | 'reclaimed', graceMs = 0): Promise<number | null> {
    return this.transaction(async (q) => {
      const [lease] = (await q.query(`SELECT sale_id, granted, state, expires_at, ${NOW_MS} AS now FROM stock_leases WHERE id = ? FOR UPDATE`, [leaseId])) as {
        sale_id: number;
        granted: number;
        state: string;
        expires_at: number;
        now: number;
      }[];
      if (!lease || lease.state !== 'active') return null;
      if (as === 'reclaimed' && Number(lease.expires_at) + graceMs > Number(lease.now)) return null;
      const [written] = (await q.query('SELECT COUNT(*) AS n FROM orders WHERE lease_id = ?', [leaseId])) as { n: number }[];
      const back = Math.max(0, Number(lease.granted) - Number(written.n));
      await q.query('UPDATE stock_leases SET state = ?, returned = ? WHERE id = ?', [as, back, leaseId]);
      if (back > 0) await q.query('UPDATE flash_sales SET unleased = unleased + ? WHERE id = ?', [back, lease.sale_id]);
      return back;
    });
  }

  /** Active leases that expired at least `graceMs` ago: their instance is gone or cut off. */
  async expired(graceMs: number): Promise<LeaseRow[]> {
    this.ops.heartbeat += 1;
    const rows = (await this.dataSource.query(
      `SELECT id, sale_id, instance_id, granted, expires_at FROM stock_leases WHERE state = 'active' AND expires_at + ? < ${NOW_MS}`,
      [graceMs],
    )) as { id: number; sale_id: number; instance_id: string; granted: number; expires_at: number }[];
    return rows.map((r) => ({ id: Number(r.id), saleId: Number(r.sale_id), instanceId: r.instance_id, granted: Number(r.granted), expiresAt: Number(r.expires_at) }));
  }

  /** Forgets memberships expired for an hour (incarnations that were killed and never left). */
  async prune(): Promise<void> {
    await this.dataSource.query(`DELETE FROM cluster_members WHERE expires_at < ${NOW_MS} - 3600000`);
  }

  /** Leaves the cluster: the membership row goes (its leases were returned before). */
  async leave(instanceId: string): Promise<void> {
    await this.dataSource.query('DELETE FROM cluster_members WHERE incarnation = ?', [instanceId]);
  }

  private async transaction<T>(work: (q: QueryRunner) => Promise<T>): Promise<T> {
    this.ops.stock += 1;
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const result = await work(runner);
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }
}
