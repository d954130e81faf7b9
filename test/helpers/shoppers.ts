// Shoppers and sales for purchase tests, made through the app's own services and repositories.
import type { Container } from '../../src/container';
import { hashPassword } from '../../src/services/AccountService';
import { waitFor } from './waitFor';

export interface Shopper {
  id: number;
  userName: string;
  cookie: string;
}

let sharedHash: Promise<string> | null = null;
let serial = 0;

/** Many accounts in a few statements (one password hash shared), each with a login cookie. */
export async function createShoppers(c: Container, n: number, prefix = 'shopper'): Promise<Shopper[]> {
  sharedHash ??= hashPassword('password123');
  const passwordHash = await sharedHash;
  const tag = `${prefix}${process.pid}x${serial++}`;
  const users = Array.from({ length: n }, (_, i) => ({
    userName: `${tag}_${i}`,
    nickName: `Shopper ${i}`,
    passwordHash,
    role: 'shopper' as const,
  }));
  const ids = await c.repos.users.createMany(users);
  return ids.map((id, i) => ({ id, userName: users[i].userName, cookie: `sid=${c.services.accounts.issueSession(id)}` }));
}

/** A product and a sale; by default live from a second ago for an hour. */
export async function createSale(
  c: Container,
  opts: { stock: number; startsInMs?: number; durationMs?: number; priceCents?: number; drawWindowSeconds?: number },
): Promise<number> {
  const productId = await c.services.catalog.createProduct({
    name: 'Test phone',
    description: 'A phone for tests',
    image: '',
    priceCents: 50000,
  });
  const startsAt = new Date(Date.now() + (opts.startsInMs ?? -1000));
  return c.services.catalog.createSale({
    productId,
    stock: opts.stock,
    priceCents: opts.priceCents ?? 10000,
    startsAt,
    endsAt: new Date(startsAt.getTime() + (opts.durationMs ?? 3600_000)),
    ...(opts.drawWindowSeconds ? { allocation: 'draw' as const, drawWindowSeconds: opts.drawWindowSeconds } : {}),
  });
}

export interface BuyResponse {
  status: number;
  code: string;
  requestId?: string;
  retryAfter: string | null;
}

/** One purchase request as the sale page's script sends it. */
export async function buy(
  base: string,
  c: Container,
  saleId: number,
  shopper: Shopper,
  opts: { ticket?: string; path?: string; cookie?: string | null; headers?: Record<string, string> } = {},
): Promise<BuyResponse> {
  const path = opts.path ?? c.services.tickets.pathFor(saleId, shopper.id);
  const ticket = opts.ticket ?? c.services.tickets.issue(saleId, shopper.id);
  const headers: Record<string, string> = { 'X-Purchase-Ticket': ticket, ...(opts.headers ?? {}) };
  const cookie = opts.cookie === undefined ? shopper.cookie : opts.cookie;
  if (cookie !== null) headers.Cookie = cookie;
  const res = await fetch(`${base}/api/sales/${saleId}/buy/${path}`, { method: 'POST', headers });
  const body = (await res.json()) as { code: string; requestId?: string };
  return { status: res.status, code: body.code, requestId: body.requestId, retryAfter: res.headers.get('retry-after') };
}

/** Waits until every accepted order is written (the tracker has nothing pending). */
export async function waitForOrders(c: Container, timeoutMs = 20_000): Promise<void> {
  await waitFor('every accepted order written', () => c.services.tracker.pendingCount() === 0, timeoutMs, 20);
}
