import { DataSource, MoreThan, Repository } from 'typeorm';
import type { DrawSeed } from '../lib/drawShuffle';
import { DrawEntry, FlashSale, Order } from '../models';

export interface SaleRecord {
  id: number;
  productId: number;
  stock: number;
  remaining: number;
  priceCents: number;
  startsAt: Date;
  endsAt: Date;
  allocation: Allocation;
  /** Draw sales: attempts in the first this many seconds after the opening become entries. */
  drawWindowSeconds: number;
  /** SHA-256 of the draw's seed (hex), public before the window; null for first-come sales. */
  drawCommitment: string | null;
  /** The seed itself, only once the draw has run (null before, and for first-come sales). */
  drawSeed: string | null;
  drawState: 'open' | 'drawn' | null;
  drawnAt: Date | null;
  drawWinners: number | null;
}

export type Allocation = 'first_come' | 'draw';

export interface SaleInput {
  productId: number;
  stock: number;
  priceCents: number;
  startsAt: Date;
  endsAt: Date;
  /** Default 'first_come'. */
  allocation?: Allocation;
  drawWindowSeconds?: number;
}



export class SaleRepository {
  private readonly repo: Repository<FlashSale>;
  private readonly orders: Repository<Order>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(FlashSale);
    this.orders = dataSource.getRepository(Order);
  }

  async list(): Promise<SaleRecord[]> {
    return (await this.repo.find({ order: { startsAt: 'DESC', id: 'DESC' } })).map(toRecord);
  }

  /** Sales still of interest to the purchase funnel: not ended before `since`. */
  async listEndingAfter(since: Date): Promise<SaleRecord[]> {
    return (await this.repo.find({ where: { endsAt: MoreThan(since) } })).map(toRecord);
  }

  /** Draw sales whose draw has not run, ended or not: entries are owed a result even after the sale's end. */
  async listUndrawn(): Promise<SaleRecord[]> {
    return (await this.repo.find({ where: { drawState: 'open' } })).map(toRecord);
  }

  async findById(id: number): Promise<SaleRecord | null> {
    const row = await this.repo.findOneBy({ id });
    return row ? toRecord(row) : null;
  }

  async create(input: SaleInput, seed: DrawSeed | null = null): Promise<number> {
    const result = await this.repo.insert({ ...columns(input, seed), remaining: input.stock, unleased: input.stock, createdAt: new Date() });
    return result.identifiers[0].id as number;
  }

  /** Stock may change only while nothing is sold: remaining follows stock. A new seed only when one is given. */
  async update(id: number, input: SaleInput, seed: DrawSeed | null = null): Promise<boolean> {
    const result = await this.repo.update({ id }, { ...columns(input, seed), remaining: input.stock, unleased: input.stock });
    return (result.affected ?? 0) > 0;
  }

  async updateEnd(id: number, endsAt: Date): Promise<boolean> {
    const result = await this.repo.update({ id }, { endsAt });
    return (result.affected ?? 0) > 0;
  }

  /** The sale and its draw entries (a sale without orders may still have entries that all lost). */
  async delete(id: number): Promise<boolean> {
    return this.repo.manager.transaction(async (m) => {
      await m.getRepository(DrawEntry).delete({ saleId: id });
      const result = await m.getRepository(FlashSale).delete({ id });
      return (result.affected ?? 0) > 0;
    });
  }

  /** The sale and its orders, in one transaction. */
  async deleteWithOrders(id: number): Promise<boolean> {
    return this.repo.manager.transaction(async (m) => {
      await m.getRepository(Order).delete({ saleId: id });
      await m.query('DELETE FROM stock_leases WHERE sale_id = ?', [id]);
      await m.getRepository(DrawEntry).delete({ saleId: id });
      const result = await m.getRepository(FlashSale).delete({ id });
      return (result.affected ?? 0) > 0;
    });
  }

  /**
   * The sale's stock as several instances share it, read in one transaction (one snapshot, so that a lease
   * taken or an order written meanwhile cannot make it disagree with itself): orders written, units not
   * leased, units leased and not sold (active leases), and the ended leases whose count does not balance
   * (granted != written from it + given back). Null when the sale was never leased.
   */
  async leaseLedger(id: number): Promise<{ orders: number; unleased: number; held: number; leases: number; unbalanced: number[] } | null> {
    return this.repo.manager.transaction(async (m) => {
      const leases = (await m.query(
        'SELECT l.id, l.granted, l.returned, l.state, (SELECT COUNT(*) FROM orders o WHERE o.lease_id = l.id) AS written FROM stock_leases l WHERE l.sale_id = ?',
        [id],
      )) as { id: number; granted: number; returned: number | null; state: string; written: number }[];
      if (leases.length === 0) return null;
      const [sale] = (await m.query('SELECT unleased, (SELECT COUNT(*) FROM orders WHERE sale_id = ?) AS orders FROM flash_sales WHERE id = ?', [id, id])) as {
        unleased: number;
        orders: number;
      }[];
      let held = 0;
      const unbalanced: number[] = [];
      for (const l of leases) {
        const written = Number(l.written);
        if (l.state === 'active') held += Number(l.granted) - written;
        else if (written + Number(l.returned ?? 0) !== Number(l.granted)) unbalanced.push(Number(l.id));
      }
      return { orders: Number(sale?.orders ?? 0), unleased: Number(sale?.unleased ?? 0), held, leases: leases.length, unbalanced };
    });
  }

  /** Whether instances hold or held leases of this sale's stock. */
  async hasLeases(id: number): Promise<boolean> {
    const rows = (await this.repo.manager.query('SELECT 1 AS x FROM stock_leases WHERE sale_id = ? LIMIT 1', [id])) as unknown[];
    return rows.length > 0;
  }

  async countOrders(id: number): Promise<number> {
    return this.orders.countBy({ saleId: id });
  }
}

function toRecord(s: FlashSale): SaleRecord {
  return {
    id: s.id,
    productId: s.productId,
    stock: s.stock,
    remaining: s.remaining,
    priceCents: s.priceCents,
    startsAt: new Date(s.startsAt),
    endsAt: new Date(s.endsAt),
    allocation: s.allocation === 'draw' ? 'draw' : 'first_come',
    drawWindowSeconds: s.drawWindowSeconds ?? 0,
    drawCommitment: s.drawCommitment ?? null,
    drawSeed: s.drawState === 'drawn' ? s.drawSeed : null,
    drawState: s.drawState ?? null,
    drawnAt: s.drawnAt ? new Date(s.drawnAt) : null,
    drawWinners: s.drawWinners ?? null,
  };
}

/** The row's columns for a sale input; a draw sale keeps its seed unless a new one is given. */
function columns(input: SaleInput, seed: DrawSeed | null) {
  const allocation = input.allocation ?? 'first_come';
  const base = {
    productId: input.productId,
    stock: input.stock,
    priceCents: input.priceCents,
    startsAt: input.startsAt,
    endsAt: input.endsAt,
    allocation,
    drawWindowSeconds: allocation === 'draw' ? (input.drawWindowSeconds ?? 0) : 0,
  };
  if (allocation === 'first_come') return { ...base, drawSeed: null, drawCommitment: null, drawState: null };
  return seed ? { ...base, drawSeed: seed.seed, drawCommitment: seed.commitment, drawState: 'open' as const } : base;
}
