// Admin pages: products, sales, orders per sale and the blacklist. Every route is behind requireAdmin.
// HTML forms answer 303 on success and the form again (400/409) with the problem next to its field;
// JSON clients (Accept: application/json) get the same outcomes as JSON bodies.
import type { Request, Response } from 'express';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors';
import { wantsJson } from '../middleware/errorHandler';
import type { PublicUser } from '../services/AccountService';
import type { BlacklistService } from '../services/BlacklistService';
import type { CatalogService, SaleView } from '../services/CatalogService';
import type { DrawService } from '../services/DrawService';
import type { OrderService } from '../services/OrderService';
import { utcTime } from '../lib/utcTime';
import { blacklistSchema, productSchema, saleSchema, toDollarsInput, toUtcInput } from './adminSchemas';
import { ordersCsv } from './ordersCsv';
import { parseForm, parseId } from './validation';

/** How the blacklist form turns a user name into an id, and ends a blocked user's logins; AccountService fits. */
export interface UserLookup {
  findByUserName(userName: string): Promise<PublicUser | null>;
  findUser(id: number): Promise<PublicUser | null>;
  revokeSessions(userId: number): Promise<void>;
}

type Product = Awaited<ReturnType<CatalogService['listProducts']>>[number];
type BlacklistEntry = Awaited<ReturnType<BlacklistService['list']>>[number];

/** Orders listed on one page; the totals always count them all. */
export const ORDERS_SHOWN = 500;
/** Orders in one CSV export: more than any sale this shop runs. */
const CSV_MAX = 1_000_000;

/** The orders search box: trimmed, bounded. */
function searchOf(req: Request): string {
  return typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 64) : '';
}

/** Formatting helpers every admin view may use (app.locals.utc is the same function). */
const helpers = {
  utc: utcTime,
  inputTime: toUtcInput,
};

/**
 * The success messages a redirect after a form may ask for (`?done=<key>&id=<id>`): a fixed table, so the
 * query string chooses a message but never writes one.
 */
const NOTICES: Record<string, (id: string) => string> = {
  'product-created': (id) => `Product ${id} created.`,
  'product-saved': (id) => `Product ${id} saved.`,
  'product-deleted': (id) => `Product ${id} deleted.`,
  'sale-created': (id) => `Sale ${id} created. It opens at its start time; its live view is linked in the list.`,
  'sale-saved': (id) => `Sale ${id} saved.`,
  'sale-deleted': (id) => `Sale ${id} deleted.`,
  'blacklist-added': () => 'Blacklist entry added; it applies to purchases at once.',
  'blacklist-removed': () => 'Blacklist entry removed.',
};

/** The success message a redirect asked for, or null. */
function successNotice(req: Request): string | null {
  const key = typeof req.query.done === 'string' ? req.query.done : '';
  const id = typeof req.query.id === 'string' && /^\d{1,9}$/.test(req.query.id) ? req.query.id : '';
  const notice = Object.hasOwn(NOTICES, key) ? NOTICES[key] : undefined;
  return notice ? notice(id) : null;
}

export class AdminController {
  constructor(
    private readonly catalog: CatalogService,
    private readonly orders: OrderService,
    private readonly blacklist: BlacklistService,
    private readonly users: UserLookup,
    private readonly draws?: Pick<DrawService, 'summary'>,
  ) {}

  dashboard = async (req: Request, res: Response): Promise<void> => {
    const now = Date.now();
    const [products, sales, entries] = await Promise.all([
      this.catalog.listProducts(),
      this.catalog.listSales(now),
      this.blacklist.list(),
    ]);
    const counts = {
      products: products.length,
      sales: sales.length,
      live: sales.filter((s) => s.phase === 'live').length,
      upcoming: sales.filter((s) => s.phase === 'upcoming').length,
      unitsSold: sales.reduce((n, s) => n + unitsSold(s), 0),
      blacklisted: entries.filter((e) => e.until === null || e.until.getTime() > now).length,
    };
    if (wantsJson(req)) {
      res.json({ ok: true, counts });
      return;
    }
    res.render('admin/dashboard', { ...helpers, title: 'Admin', counts });
  };

  // ---- products -------------------------------------------------------------------------------------------

  products = async (req: Request, res: Response): Promise<void> => {
    const products = await this.catalog.listProducts();
    if (wantsJson(req)) {
      res.json({ ok: true, products });
      return;
    }
    res.render('admin/products/index', { ...(await this.productListLocals()), success: successNotice(req) });
  };

  newProduct = (_req: Request, res: Response): void => {
    res.render('admin/products/form', { ...helpers, title: 'New product', product: null, errors: {}, values: {} });
  };

  createProduct = async (req: Request, res: Response): Promise<void> => {
    const input = parseForm(productSchema, req, res, 'admin/products/form', { ...helpers, title: 'New product', product: null });
    if (!input) return;
    const id = await this.catalog.createProduct(input);
    done(req, res, `/admin/products?done=product-created&id=${id}`, 201, { ok: true, id });
  };

  editProduct = async (req: Request, res: Response): Promise<void> => {
    const product = await this.catalog.getProduct(parseId(req.params.id, 'product id'));
    const values = { ...product, price: toDollarsInput(product.priceCents) };
    res.render('admin/products/form', { ...helpers, title: `Edit ${product.name}`, product, errors: {}, values });
  };

  updateProduct = async (req: Request, res: Response): Promise<void> => {
    const product = await this.catalog.getProduct(parseId(req.params.id, 'product id'));
    const locals = { ...helpers, title: `Edit ${product.name}`, product };
    const input = parseForm(productSchema, req, res, 'admin/products/form', locals);
    if (!input) return;
    await this.catalog.updateProduct(product.id, input);
    done(req, res, `/admin/products?done=product-saved&id=${product.id}`, 200, { ok: true, id: product.id });
  };

  deleteProduct = async (req: Request, res: Response): Promise<void> => {
    const id = parseId(req.params.id, 'product id');
    const refused = await attempt(req, () => this.catalog.deleteProduct(id));
    if (refused instanceof AppError) {
      res.status(refused.status).render('admin/products/index', { ...(await this.productListLocals()), notice: refused.message });
      return;
    }
    done(req, res, `/admin/products?done=product-deleted&id=${id}`, 200, { ok: true });
  };

  /** The question before a delete, on a page of its own (the strict CSP allows no inline confirm() script). */
  confirmDeleteProduct = async (req: Request, res: Response): Promise<void> => {
    const product = await this.catalog.getProduct(parseId(req.params.id, 'product id'));
    const { salesPerProduct } = await this.productListLocals();
    const sales = salesPerProduct.get(product.id) ?? 0;
    res.render('admin/confirm-delete', {
      ...helpers,
      title: `Delete ${product.name}?`,
      what: `product ${product.id}, ${product.name}`,
      action: `/admin/products/${product.id}/delete`,
      back: '/admin/products',
      refusal: sales > 0 ? `It has ${sales} sale${sales === 1 ? '' : 's'}: delete ${sales === 1 ? 'it' : 'them'} first.` : null,
      consequences: [],
      withOrders: false,
    });
  };

  // ---- sales ----------------------------------------------------------------------------------------------

  sales = async (req: Request, res: Response): Promise<void> => {
    const sales = await this.catalog.listSales();
    if (wantsJson(req)) {
      res.json({ ok: true, sales });
      return;
    }
    res.render('admin/sales/index', { ...helpers, title: 'Sales', sales, success: successNotice(req) });
  };

  newSale = async (req: Request, res: Response): Promise<void> => {
    const products = await this.catalog.listProducts();
    const chosen = products.find((p) => String(p.id) === req.query.productId);
    const values = chosen ? { productId: String(chosen.id), price: toDollarsInput(chosen.priceCents) } : {};
    res.render('admin/sales/form', { ...helpers, title: 'New sale', sale: null, locked: false, products, errors: {}, values });
  };

  createSale = async (req: Request, res: Response): Promise<void> => {
    const products = await this.catalog.listProducts();
    const locals = { ...helpers, title: 'New sale', sale: null, locked: false, products };
    const input = parseForm(saleSchema, req, res, 'admin/sales/form', locals);
    if (!input) return;
    if (!products.some((p) => p.id === input.productId)) {
      refuseForm(req, res, 'admin/sales/form', locals, { productId: 'is not a product' });
      return;
    }
    const result = await attempt(req, () => this.catalog.createSale(input));
    if (result instanceof AppError) return renderRefused(res, result, 'admin/sales/form', locals, req.body);
    done(req, res, `/admin/sales?done=sale-created&id=${result}`, 201, { ok: true, id: result });
  };

  editSale = async (req: Request, res: Response): Promise<void> => {
    const [sale, products] = await Promise.all([this.catalog.getSale(parseId(req.params.id, 'sale id')), this.catalog.listProducts()]);
    res.render('admin/sales/form', { ...this.saleFormLocals(sale, products), errors: {}, values: saleValues(sale) });
  };

  updateSale = async (req: Request, res: Response): Promise<void> => {
    const [sale, products] = await Promise.all([this.catalog.getSale(parseId(req.params.id, 'sale id')), this.catalog.listProducts()]);
    const locals = this.saleFormLocals(sale, products);
    const input = parseForm(saleSchema, req, res, 'admin/sales/form', locals);
    if (!input) return;
    if (!products.some((p) => p.id === input.productId)) {
      refuseForm(req, res, 'admin/sales/form', locals, { productId: 'is not a product' });
      return;
    }
    const refused = await attempt(req, () => this.catalog.updateSale(sale.id, input));
    if (refused instanceof AppError) return renderRefused(res, refused, 'admin/sales/form', locals, req.body);
    done(req, res, `/admin/sales?done=sale-saved&id=${sale.id}`, 200, { ok: true, id: sale.id });
  };

  deleteSale = async (req: Request, res: Response): Promise<void> => {
    const id = parseId(req.params.id, 'sale id');
    const withOrders = (req.body as Record<string, unknown> | undefined)?.deleteOrders === 'yes';
    const refused = await attempt(req, () => this.catalog.deleteSale(id, withOrders));
    if (refused instanceof AppError) {
      const sales = await this.catalog.listSales();
      res.status(refused.status).render('admin/sales/index', { ...helpers, title: 'Sales', sales, notice: refused.message });
      return;
    }
    done(req, res, `/admin/sales?done=sale-deleted&id=${id}`, 200, { ok: true });
  };

  /** The question before a delete: what goes with the sale, or why it cannot go now. */
  confirmDeleteSale = async (req: Request, res: Response): Promise<void> => {
    const { sale, orders, refusal } = await this.catalog.deletion(parseId(req.params.id, 'sale id'));
    const consequences = orders > 0 ? [`Its ${orders} order${orders === 1 ? '' : 's'} will be deleted with it.`] : [];
    res.render('admin/confirm-delete', {
      ...helpers,
      title: `Delete sale ${sale.id}?`,
      what: `sale ${sale.id}: ${sale.product.name}, ${sale.stock} units, ${utcTime(sale.startsAt)} to ${utcTime(sale.endsAt)}`,
      action: `/admin/sales/${sale.id}/delete`,
      back: '/admin/sales',
      refusal: refusal?.message ?? null,
      consequences,
      withOrders: orders > 0,
      exportUrl: orders > 0 ? `/admin/sales/${sale.id}/orders.csv` : null,
    });
  };

  /** Orders of one sale, with who bought, its totals (orders written, units sold, revenue) and a search (`q`). */
  saleOrders = async (req: Request, res: Response): Promise<void> => {
    const sale = await this.catalog.getSale(parseId(req.params.id, 'sale id'));
    const search = searchOf(req);
    const [{ orders, matched }, count] = await Promise.all([
      this.orders.listForSaleWithBuyers(sale.id, search, ORDERS_SHOWN),
      this.orders.countForSale(sale.id),
    ]);
    const totals = { count, unitsSold: unitsSold(sale), revenueCents: count * sale.priceCents };
    if (wantsJson(req)) {
      res.json({ ok: true, sale, totals, matched, orders });
      return;
    }
    res.render('admin/sales/orders', { ...helpers, title: `Orders: ${sale.product.name}`, sale, totals, orders, matched, search });
  };

  /** A draw sale's draw: its window, entries, commitment, and once drawn its seed and winners. */
  saleDraw = async (req: Request, res: Response): Promise<void> => {
    const sale = await this.catalog.getSale(parseId(req.params.id, 'sale id'));
    if (sale.allocation !== 'draw' || !this.draws) throw new NotFoundError('Draw');
    const summary = await this.draws.summary(sale.id);
    const draw = {
      window: sale.drawWindowSeconds,
      at: sale.drawAt,
      phase: sale.drawPhase,
      commitment: sale.drawCommitment,
      seed: sale.drawSeed,
      drawnAt: sale.drawnAt,
      entries: summary.entries,
      winners: sale.drawSeed ? summary.winners : null,
    };
    if (wantsJson(req)) {
      res.json({ ok: true, saleId: sale.id, draw });
      return;
    }
    res.render('admin/sales/draw', { ...helpers, title: `Draw: ${sale.product.name}`, sale, draw });
  };

  /** The same orders (all of them, or those the search finds) as CSV, for a spreadsheet. */
  saleOrdersCsv = async (req: Request, res: Response): Promise<void> => {
    const sale = await this.catalog.getSale(parseId(req.params.id, 'sale id'));
    const { orders } = await this.orders.listForSaleWithBuyers(sale.id, searchOf(req), CSV_MAX);
    res
      .status(200)
      .set('Content-Type', 'text/csv; charset=utf-8')
      .set('Content-Disposition', `attachment; filename="sale-${sale.id}-orders.csv"`)
      .set('Cache-Control', 'no-store')
      .send(ordersCsv(orders));
  };

  // ---- blacklist ------------------------------------------------------------------------------------------

  blacklistPage = async (req: Request, res: Response): Promise<void> => {
    const entries = await this.blacklist.list();
    if (wantsJson(req)) {
      res.json({ ok: true, entries });
      return;
    }
    res.render('admin/blacklist/index', { ...(await this.blacklistLocals(entries)), errors: {}, values: {}, success: successNotice(req) });
  };

  addToBlacklist = async (req: Request, res: Response): Promise<void> => {
    const locals = await this.blacklistLocals(await this.blacklist.list());
    const input = parseForm(blacklistSchema, req, res, 'admin/blacklist/index', locals);
    if (!input) return;
    let userId: number | null = null;
    if (input.user !== null) {
      const found = await this.resolveUser(input.user);
      if (typeof found === 'string') {
        refuseForm(req, res, 'admin/blacklist/index', locals, { user: found });
        return;
      }
      userId = found;
    }
    const id = await this.blacklist.add({ userId, ip: input.ip, reason: input.reason, until: input.until });
    // A user blocked by hand may have been taken over: every copy of their login cookie stops working.
    if (userId !== null) await this.users.revokeSessions(userId);
    done(req, res, `/admin/blacklist?done=blacklist-added&id=${id}`, 201, { ok: true, id });
  };

  removeFromBlacklist = async (req: Request, res: Response): Promise<void> => {
    const id = parseId(req.params.id, 'blacklist entry id');
    if (!(await this.blacklist.remove(id))) throw new NotFoundError('Blacklist entry');
    done(req, res, '/admin/blacklist?done=blacklist-removed', 200, { ok: true });
  };

  // ---- helpers --------------------------------------------------------------------------------------------

  private async productListLocals() {
    const [products, sales] = await Promise.all([this.catalog.listProducts(), this.catalog.listSales()]);
    const salesPerProduct = new Map<number, number>();
    for (const s of sales) salesPerProduct.set(s.productId, (salesPerProduct.get(s.productId) ?? 0) + 1);
    return { ...helpers, title: 'Products', products, salesPerProduct };
  }

  private saleFormLocals(sale: SaleView, products: Product[]) {
    // Started sales lock product, stock and start (CatalogService enforces it; the form just says so).
    return { ...helpers, title: `Edit sale: ${sale.product.name}`, sale, products, locked: sale.startsAt.getTime() <= Date.now() };
  }

  private async blacklistLocals(entries: BlacklistEntry[]) {
    const names = new Map<number, string>();
    const ids = [...new Set(entries.map((e) => e.userId).filter((id): id is number => id !== null))];
    const found = await Promise.all(ids.map((id) => this.users.findUser(id)));
    for (const u of found) if (u) names.set(u.id, u.userName);
    return { ...helpers, title: 'Blacklist', entries, names, now: Date.now() };
  }

  /** The user id for `#12` or a user name, or the reason it cannot be found. */
  private async resolveUser(user: { id: number } | { name: string }): Promise<number | string> {
    if ('id' in user) {
      if (!(await this.users.findUser(user.id))) return 'is not a known user id';
      return user.id;
    }
    const found = await this.users.findByUserName(user.name);
    return found ? found.id : 'is not a known user name';
  }
}

function unitsSold(sale: SaleView): number {
  return sale.stock - sale.remaining;
}

function saleValues(sale: SaleView): Record<string, string> {
  return {
    productId: String(sale.productId),
    stock: String(sale.stock),
    price: toDollarsInput(sale.priceCents),
    startsAt: toUtcInput(sale.startsAt),
    endsAt: toUtcInput(sale.endsAt),
    allocation: sale.allocation,
    drawWindowSeconds: sale.allocation === 'draw' ? String(sale.drawWindowSeconds) : '',
  };
}

/** After a successful POST: 303 to `location` for browsers, the JSON body for API clients. */
function done(req: Request, res: Response, location: string, status: number, body: object): void {
  if (wantsJson(req)) res.status(status).json(body);
  else res.redirect(303, location);
}

/** A field problem found after parsing: the form again with the error next to the field, or a JSON 400. */
function refuseForm(req: Request, res: Response, view: string, locals: object, fields: Record<string, string>): void {
  if (wantsJson(req)) throw new ValidationError(fields);
  res.status(400).render(view, { ...locals, errors: fields, values: req.body ?? {} });
}

/**
 * Runs a service call and returns its result. A refusal the admin can act on (400 or 409) is returned
 * instead, for an HTML page to show; anything else, and every refusal for a JSON client, goes on to the
 * error handler.
 */
async function attempt<T extends number | void>(req: Request, action: () => Promise<T>): Promise<T | AppError> {
  try {
    return await action();
  } catch (err) {
    if (wantsJson(req) || !(err instanceof ValidationError || err instanceof ConflictError)) throw err;
    return err;
  }
}

function renderRefused(res: Response, refused: AppError, view: string, locals: object, values: unknown): void {
  const fields = refused instanceof ValidationError ? refused.fields : {};
  res.status(refused.status).render(view, {
    ...locals,
    errors: fields,
    values: values ?? {},
    formError: refused instanceof ValidationError ? undefined : refused.message,
  });
}
