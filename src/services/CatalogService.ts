// Products and flash sales: what admins create and shoppers browse. Keeps the funnel's sale table in step.
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { ProductInput, ProductRecord, ProductRepository } from '../repositories/ProductRepository';
import { SaleInput, SaleRecord, SaleRepository } from '../repositories/SaleRepository';
import { newDrawSeed } from '../lib/drawShuffle';
import { type DrawPhase, type SaleBook, saleWindow, windowState } from './SaleBook';

export type SalePhase = 'upcoming' | 'live' | 'sold_out' | 'ended';

export interface SaleView extends SaleRecord {
  product: ProductRecord;
  /** Units the shop can still sell, from the funnel's live counter when the sale is loaded. */
  left: number;
  phase: SalePhase;
  /** A draw sale's end of entries (epoch ms), or null for first come. */
  drawAt: number | null;
  /** Where a draw sale's draw stands in this process ('none' for first come). */
  drawPhase: DrawPhase;
}

/** The longest entry window a draw may have. */
export const MAX_DRAW_WINDOW_SECONDS = 3600;

/** How long a sale page may show a product's text after an admin edit; the live figures are never cached. */
const RECORD_TTL_MS = 1000;

export class CatalogService {
  /** Sale and product records for sale pages and their polling, so a crowd does not become database load. */
  private readonly records = new Map<number, { at: number; sale: SaleRecord; product: ProductRecord }>();
  /** Told after a sale is created, edited or deleted here (the other instances reload it). */
  saleChanged: (saleId: number) => void = () => undefined;

  constructor(
    private readonly products: ProductRepository,
    private readonly sales: SaleRepository,
    private readonly book: SaleBook,
    /** Orders this process accepted and has not yet written: a sale is not deleted under them. */
    private readonly pendingOrders: () => number = () => 0,
  ) {}

  listProducts(): Promise<ProductRecord[]> {
    return this.products.list();
  }

  async getProduct(id: number): Promise<ProductRecord> {
    const p = await this.products.findById(id);
    if (!p) throw new NotFoundError('Product');
    return p;
  }

  createProduct(input: ProductInput): Promise<number> {
    return this.products.create(input);
  }

  async updateProduct(id: number, input: ProductInput): Promise<void> {
    if (!(await this.products.update(id, input))) throw new NotFoundError('Product');
    this.records.clear();
  }

  async deleteProduct(id: number): Promise<void> {
    if (await this.products.hasSales(id)) {
      throw new ConflictError('PRODUCT_HAS_SALES', 'Delete the sales of this product first.');
    }
    if (!(await this.products.delete(id))) throw new NotFoundError('Product');
  }

  async listSales(now = Date.now()): Promise<SaleView[]> {
    const [sales, products] = await Promise.all([this.sales.list(), this.products.list()]);
    const byId = new Map(products.map((p) => [p.id, p]));
    return sales.filter((s) => byId.has(s.productId)).map((s) => this.view(s, byId.get(s.productId)!, now));
  }

  async getSale(id: number, now = Date.now()): Promise<SaleView> {
    const cached = this.records.get(id);
    if (cached && now - cached.at < RECORD_TTL_MS) return this.view(cached.sale, cached.product, now);
    const sale = await this.sales.findById(id);
    if (!sale) throw new NotFoundError('Sale');
    const product = await this.getProduct(sale.productId);
    if (this.records.size > 10_000) this.records.clear();
    this.records.set(id, { at: now, sale, product });
    return this.view(sale, product, now);
  }

  async createSale(input: SaleInput): Promise<number> {
    await this.getProduct(input.productId);
    checkWindow(input);
    const draw = input.allocation === 'draw';
    const id = await this.sales.create(input, draw ? newDrawSeed() : null);
    this.book.put(saleWindow({ id, ...input }));
    this.book.inventory.load(id, input.stock, []);
    if (draw) this.book.draws.load(id, [], null);
    this.saleChanged(id);
    return id;
  }

  /** Stock, product, price and start are locked once the sale has started; only the end may still change. */
  async updateSale(id: number, input: SaleInput, now = Date.now()): Promise<void> {
    const current = await this.sales.findById(id);
    if (!current) throw new NotFoundError('Sale');
    checkWindow(input);
    if (current.startsAt.getTime() > now && input.stock !== current.stock && (await this.sales.hasLeases(id))) {
      throw new ConflictError('SALE_LOCKED', 'The instances already hold part of this stock for the opening: its stock can no longer change.');
    }
    if (current.startsAt.getTime() <= now) {
      if (
        (input.allocation ?? 'first_come') !== current.allocation ||
        (current.allocation === 'draw' && input.drawWindowSeconds !== current.drawWindowSeconds) ||
        input.stock !== current.stock ||
        input.productId !== current.productId ||
        input.priceCents !== current.priceCents ||
        input.startsAt.getTime() !== current.startsAt.getTime()
      ) {
        throw new ConflictError('SALE_LOCKED', 'The sale has started: its product, stock, price, start and allocation can no longer change.');
      }
      await this.sales.updateEnd(id, input.endsAt);
      this.records.delete(id);
    } else {
      await this.getProduct(input.productId);
      // A sale that becomes a draw gets its seed now; a draw sale keeps the one it committed to.
      const becomesDraw = input.allocation === 'draw' && current.drawCommitment === null;
      await this.sales.update(id, input, becomesDraw ? newDrawSeed() : null);
      this.records.delete(id);
      this.book.inventory.load(id, input.stock, []);
      if (input.allocation === 'draw') this.book.draws.load(id, [], null);
      else this.book.draws.forget(id);
    }
    this.book.put(saleWindow({ id, ...input }));
    this.saleChanged(id);
  }

  /** A sale changed by another instance: its window, and its stock while nothing is sold, from the database. */
  async refreshSale(id: number): Promise<void> {
    this.records.delete(id);
    const sale = await this.sales.findById(id);
    if (!sale) return this.book.remove(id);
    const known = this.book.get(id) !== undefined;
    this.book.put(saleWindow(sale));
    if (!known || sale.remaining === sale.stock) this.book.inventory.load(id, sale.remaining, []);
    if (!known && sale.allocation === 'draw') this.book.draws.load(id, [], null);
  }

  /**
   * Whether the sale may be deleted now, and what goes with it. An upcoming sale may; one that is selling
   * (live, units left) may not: end it first. A sold-out or ended sale may, with its orders, once every order
   * this process accepted is written (so that none arrives after it).
   */
  async deletion(id: number, now = Date.now()): Promise<{ sale: SaleView; orders: number; refusal: ConflictError | null }> {
    const sale = await this.getSale(id, now);
    const orders = await this.sales.countOrders(id);
    let refusal: ConflictError | null = null;
    if (sale.phase === 'live') {
      refusal = new ConflictError('SALE_LIVE', 'This sale is selling: set its end to now (Edit) or wait until it sells out, then delete it.');
    } else if (sale.phase !== 'upcoming' && this.pendingOrders() > 0) {
      refusal = new ConflictError('SALE_SETTLING', 'Accepted orders are still being written; try again in a few seconds.');
    }
    return { sale, orders, refusal };
  }

  /** Deletes the sale (see deletion()); with orders only when `withOrders` says so, and then them too. */
  async deleteSale(id: number, withOrders = false, now = Date.now()): Promise<void> {
    this.records.delete(id);
    const { orders, refusal } = await this.deletion(id, now);
    if (refusal) throw refusal;
    if (orders > 0 && !withOrders) {
      throw new ConflictError('SALE_HAS_ORDERS', `This sale has ${orders} orders: confirm deleting them with it.`, { orders });
    }
    if (!(await (orders > 0 ? this.sales.deleteWithOrders(id) : this.sales.delete(id)))) throw new NotFoundError('Sale');
    this.records.delete(id);
    this.book.remove(id);
    this.saleChanged(id);
  }

  private view(sale: SaleRecord, product: ProductRecord, now: number): SaleView {
    const loaded = this.book.get(sale.id) !== undefined;
    const left = loaded ? this.book.inventory.remaining(sale.id) : sale.remaining;
    const state = windowState({ startsAt: sale.startsAt.getTime(), endsAt: sale.endsAt.getTime() }, now);
    const phase: SalePhase = state === 'live' ? (left <= 0 ? 'sold_out' : 'live') : state === 'upcoming' ? 'upcoming' : 'ended';
    const drawAt = sale.allocation === 'draw' ? sale.startsAt.getTime() + sale.drawWindowSeconds * 1000 : null;
    const drawPhase: DrawPhase = sale.allocation !== 'draw' ? 'none' : loaded ? this.book.drawPhase(sale.id, now) : sale.drawState === 'drawn' ? 'drawn' : now < drawAt! ? 'entering' : 'drawing';
    return { ...sale, product, left, phase, drawAt, drawPhase };
  }
}

function checkWindow(input: SaleInput): void {
  if (input.endsAt.getTime() <= input.startsAt.getTime()) {
    throw new ValidationError({ endsAt: 'must be after the start' });
  }
  if (input.allocation === 'draw') {
    const w = input.drawWindowSeconds ?? 0;
    if (!Number.isInteger(w) || w < 1 || w > MAX_DRAW_WINDOW_SECONDS) {
      throw new ValidationError({ drawWindowSeconds: `must be a whole number of seconds from 1 to ${MAX_DRAW_WINDOW_SECONDS}` });
    }
    if (input.startsAt.getTime() + w * 1000 >= input.endsAt.getTime()) {
      throw new ValidationError({ drawWindowSeconds: 'must end before the sale does, so that what is left can sell first come' });
    }
  }
}
