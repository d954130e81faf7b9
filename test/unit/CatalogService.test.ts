// CatalogService through its public API, over in-memory stand-ins for its two repositories (subclasses of
// the real ones: every method the service calls is overridden, and the DataSource under them is never
// initialised, so a call that slipped through would fail loudly) and the real SaleBook.
import { DataSource } from 'typeorm';
import { AppError } from '../../src/errors';
import { ProductInput, ProductRecord, ProductRepository } from '../../src/repositories/ProductRepository';
import { SaleInput, SaleRecord, SaleRepository } from '../../src/repositories/SaleRepository';
import { CatalogService } from '../../src/services/CatalogService';
import { MemoryInventory, SaleBook } from '../../src/services/SaleBook';

const NO_DRAW = { drawCommitment: null, drawSeed: null, drawState: null, drawnAt: null, drawWinners: null };

const unopened = () => new DataSource({ type: 'better-sqlite3', database: ':memory:' });

class MemoryProducts extends ProductRepository {
  readonly rows = new Map<number, ProductRecord>();
  readonly withSales = new Set<number>();
  private nextId = 1;

  constructor() {
    super(unopened());
  }

  override async list(): Promise<ProductRecord[]> {
    return [...this.rows.values()];
  }
  override async findById(id: number): Promise<ProductRecord | null> {
    return this.rows.get(id) ?? null;
  }
  override async create(input: ProductInput): Promise<number> {
    const id = this.nextId++;
    this.rows.set(id, { id, ...input });
    return id;
  }
  override async update(id: number, input: ProductInput): Promise<boolean> {
    if (!this.rows.has(id)) return false;
    this.rows.set(id, { id, ...input });
    return true;
  }
  override async delete(id: number): Promise<boolean> {
    return this.rows.delete(id);
  }
  override async hasSales(id: number): Promise<boolean> {
    return this.withSales.has(id);
  }
}

class MemorySales extends SaleRepository {
  readonly rows = new Map<number, SaleRecord>();
  readonly orderCounts = new Map<number, number>();
  lookups = 0;
  private nextId = 1;

  constructor() {
    super(unopened());
  }

  override async list(): Promise<SaleRecord[]> {
    return [...this.rows.values()];
  }
  override async findById(id: number): Promise<SaleRecord | null> {
    this.lookups += 1;
    return this.rows.get(id) ?? null;
  }
  override async create(input: SaleInput): Promise<number> {
    const id = this.nextId++;
    this.rows.set(id, { ...NO_DRAW, id, ...input, allocation: input.allocation ?? 'first_come', drawWindowSeconds: input.drawWindowSeconds ?? 0, remaining: input.stock });
    return id;
  }
  override async update(id: number, input: SaleInput): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row) return false;
    this.rows.set(id, { ...row, ...input, allocation: input.allocation ?? 'first_come', drawWindowSeconds: input.drawWindowSeconds ?? 0, remaining: input.stock });
    return true;
  }
  /** Sales whose stock instances hold leases of. */
  readonly leased = new Set<number>();
  override async hasLeases(id: number): Promise<boolean> {
    return this.leased.has(id);
  }
  override async updateEnd(id: number, endsAt: Date): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row) return false;
    row.endsAt = endsAt;
    return true;
  }
  override async delete(id: number): Promise<boolean> {
    return this.rows.delete(id);
  }
  override async countOrders(id: number): Promise<number> {
    return this.orderCounts.get(id) ?? 0;
  }
  override async deleteWithOrders(id: number): Promise<boolean> {
    this.orderCounts.delete(id);
    return this.rows.delete(id);
  }
}

const NOW = Date.UTC(2030, 5, 1, 12);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** CatalogService keeps a sale page's records this long (its RECORD_TTL_MS). */
const RECORD_TTL_MS = 1000;
const lamp: ProductInput = { name: 'Lamp', description: 'A lamp.', image: '/img/lamp.png', priceCents: 4900 };

function rig() {
  const products = new MemoryProducts();
  const sales = new MemorySales();
  const book = new SaleBook(new MemoryInventory());
  const pending = { count: 0 };
  const catalog = new CatalogService(products, sales, book, () => pending.count);
  const saleInput = (productId: number, over: Partial<SaleInput> = {}): SaleInput => ({
    productId,
    stock: 10,
    priceCents: 990,
    startsAt: new Date(NOW + HOUR),
    endsAt: new Date(NOW + 2 * HOUR),
    ...over,
  });
  return { products, sales, book, catalog, saleInput, pending };
}

/** The AppError code a promise rejects with. */
async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('CatalogService', () => {
  describe('products', () => {
    it('when a product does not exist, then getProduct, updateProduct and deleteProduct answer NOT_FOUND', async () => {
      const { catalog } = rig();

      expect(await codeOf(catalog.getProduct(42))).toBe('NOT_FOUND');
      expect(await codeOf(catalog.updateProduct(42, lamp))).toBe('NOT_FOUND');
      expect(await codeOf(catalog.deleteProduct(42))).toBe('NOT_FOUND');
    });

    it('when a product has sales, then it cannot be deleted', async () => {
      const { catalog, products } = rig();
      const id = await catalog.createProduct(lamp);
      products.withSales.add(id);

      expect(await codeOf(catalog.deleteProduct(id))).toBe('PRODUCT_HAS_SALES');
      expect(products.rows.has(id)).toBe(true);
    });

    it('when a product without sales is deleted, then it is gone', async () => {
      const { catalog } = rig();
      const id = await catalog.createProduct(lamp);

      await catalog.deleteProduct(id);

      expect(await catalog.listProducts()).toEqual([]);
    });
  });

  describe('creating a sale', () => {
    it('when created, then it is in the sale book with its window and its whole stock to sell', async () => {
      const { catalog, book, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const input = saleInput(productId, { stock: 7 });

      const id = await catalog.createSale(input);

      expect(book.get(id)).toEqual({ id, startsAt: input.startsAt.getTime(), endsAt: input.endsAt.getTime(), stock: 7, drawEndsAt: 0 });
      expect(book.inventory.remaining(id)).toBe(7);
    });

    it('when it ends before it starts, then INVALID_INPUT and nothing is stored', async () => {
      const { catalog, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);

      const code = await codeOf(catalog.createSale(saleInput(productId, { endsAt: new Date(NOW + HOUR) })));

      expect(code).toBe('INVALID_INPUT');
      expect(sales.rows.size).toBe(0);
    });

    it('when its product does not exist, then NOT_FOUND and nothing is stored', async () => {
      const { catalog, sales, saleInput } = rig();

      expect(await codeOf(catalog.createSale(saleInput(42)))).toBe('NOT_FOUND');
      expect(sales.rows.size).toBe(0);
    });
  });

  describe('sale views', () => {
    it('when listed at different moments, then each sale reads upcoming, live, sold out or ended', async () => {
      const { catalog, book, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId, { stock: 1 }));

      const phaseAt = async (now: number) => (await catalog.listSales(now)).map((s) => s.phase);
      expect(await phaseAt(NOW)).toEqual(['upcoming']);
      expect(await phaseAt(NOW + HOUR)).toEqual(['live']);
      book.inventory.tryReserve(id, 1);
      expect(await phaseAt(NOW + HOUR)).toEqual(['sold_out']);
      expect(await phaseAt(NOW + 2 * HOUR)).toEqual(['ended']);
    });

    it('when a sale is in the book, then `left` is the live counter; when not, the stored remaining', async () => {
      const { catalog, book, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId, { stock: 5 }));
      book.inventory.tryReserve(id, 1);
      expect((await catalog.getSale(id, NOW)).left).toBe(4);

      book.remove(id);
      sales.rows.get(id)!.remaining = 3;

      expect((await catalog.getSale(id, NOW + 2 * RECORD_TTL_MS)).left).toBe(3);
    });

    it('when a sale is read again within a second, then the records come from memory but the live figures do not', async () => {
      const { catalog, book, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId, { stock: 5 }));
      await catalog.getSale(id, NOW);
      const lookups = sales.lookups;
      book.inventory.tryReserve(id, 1);

      const again = await catalog.getSale(id, NOW + RECORD_TTL_MS - 1);

      expect(sales.lookups).toBe(lookups);
      expect(again.left).toBe(4);
    });

    it('when a sale is read a second or more later, then its records are read again', async () => {
      const { catalog, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId));
      await catalog.getSale(id, NOW);
      const lookups = sales.lookups;

      await catalog.getSale(id, NOW + RECORD_TTL_MS);

      expect(sales.lookups).toBe(lookups + 1);
    });

    it('when a product is edited, then the next read of its sale shows the new text at once', async () => {
      const { catalog, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId));
      await catalog.getSale(id, NOW);

      await catalog.updateProduct(productId, { ...lamp, name: 'Desk lamp' });

      expect((await catalog.getSale(id, NOW + 1)).product.name).toBe('Desk lamp');
    });

    it('when a sale does not exist, then NOT_FOUND', async () => {
      const { catalog } = rig();

      expect(await codeOf(catalog.getSale(42, NOW))).toBe('NOT_FOUND');
    });
  });

  describe('updating a sale', () => {
    it('when it has not started, then anything may change, and the stock to sell is loaded afresh', async () => {
      const { catalog, book, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId, { stock: 5 }));
      const later = saleInput(productId, { stock: 8, startsAt: new Date(NOW + 3 * HOUR), endsAt: new Date(NOW + 4 * HOUR) });

      await catalog.updateSale(id, later, NOW);

      expect(book.inventory.remaining(id)).toBe(8);
      expect(book.get(id)!.startsAt).toBe(NOW + 3 * HOUR);
      expect((await catalog.getSale(id, NOW)).stock).toBe(8);
    });

    it('when instances already hold part of its stock for the opening, then its stock is SALE_LOCKED', async () => {
      const { catalog, book, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId, { stock: 5 }));
      sales.leased.add(id);

      expect(await codeOf(catalog.updateSale(id, saleInput(productId, { stock: 8 }), NOW))).toBe('SALE_LOCKED');
      expect(book.inventory.remaining(id)).toBe(5);
      await catalog.updateSale(id, saleInput(productId, { stock: 5, priceCents: 1 }), NOW);
      expect((await catalog.getSale(id, NOW)).priceCents).toBe(1);
    });

    it('when it has started, then only its end may change; the rest is SALE_LOCKED', async () => {
      const { catalog, book, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const input = saleInput(productId, { stock: 5 });
      const id = await catalog.createSale(input);
      const duringSale = NOW + HOUR + MINUTE;
      book.inventory.tryReserve(id, 1);

      expect(await codeOf(catalog.updateSale(id, { ...input, stock: 50 }, duringSale))).toBe('SALE_LOCKED');
      expect(await codeOf(catalog.updateSale(id, { ...input, priceCents: 1 }, duringSale))).toBe('SALE_LOCKED');
      await catalog.updateSale(id, { ...input, endsAt: new Date(NOW + 5 * HOUR) }, duringSale);

      expect(sales.rows.get(id)!.endsAt.getTime()).toBe(NOW + 5 * HOUR);
      expect(sales.rows.get(id)!.stock).toBe(5);
      expect(book.get(id)!.endsAt).toBe(NOW + 5 * HOUR);
      expect(book.inventory.remaining(id)).toBe(4); // the live counter is not reset
    });

    it('when the sale does not exist, then NOT_FOUND', async () => {
      const { catalog, saleInput } = rig();

      expect(await codeOf(catalog.updateSale(42, saleInput(1), NOW))).toBe('NOT_FOUND');
    });
  });

  describe('deleting a sale', () => {
    it('when it is live with units left, then SALE_LIVE and it stays', async () => {
      const { catalog, book, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId));

      expect(await codeOf(catalog.deleteSale(id, true, NOW + HOUR))).toBe('SALE_LIVE');
      expect(book.get(id)).toBeDefined();
    });

    it('when it is sold out inside its window and every order is written, then it goes with its orders', async () => {
      const { catalog, book, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId, { stock: 1 }));
      book.inventory.tryReserve(id, 7);
      sales.orderCounts.set(id, 1);

      await catalog.deleteSale(id, true, NOW + HOUR + MINUTE);

      expect(sales.rows.has(id)).toBe(false);
      expect(sales.orderCounts.has(id)).toBe(false);
      expect(book.get(id)).toBeUndefined();
    });

    it('when it is sold out but accepted orders are still being written, then SALE_SETTLING and it stays', async () => {
      const { catalog, book, sales, saleInput, pending } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId, { stock: 1 }));
      book.inventory.tryReserve(id, 7);
      pending.count = 1;

      expect(await codeOf(catalog.deleteSale(id, true, NOW + HOUR + MINUTE))).toBe('SALE_SETTLING');
      expect(sales.rows.has(id)).toBe(true);
    });

    it('when it has orders and the deletion of orders is not confirmed, then SALE_HAS_ORDERS', async () => {
      const { catalog, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId));
      sales.orderCounts.set(id, 1);

      expect(await codeOf(catalog.deleteSale(id, false, NOW + 3 * HOUR))).toBe('SALE_HAS_ORDERS');
      expect(sales.rows.has(id)).toBe(true);
    });

    it('when it has ended without orders, then it leaves the store, the sale book and the inventory', async () => {
      const { catalog, book, sales, saleInput } = rig();
      const productId = await catalog.createProduct(lamp);
      const id = await catalog.createSale(saleInput(productId));

      await catalog.deleteSale(id, false, NOW + 3 * HOUR);

      expect(sales.rows.has(id)).toBe(false);
      expect(book.get(id)).toBeUndefined();
      expect(book.inventory.isSoldOut(id)).toBe(true);
      expect(await codeOf(catalog.getSale(id, NOW + 3 * HOUR))).toBe('NOT_FOUND');
    });
  });
});
