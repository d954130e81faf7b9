// Prepares a bench sale through the app's own classes: shoppers, product and sale in the database by the
// app's repositories; login cookies, purchase tickets and secret paths minted with the app's key by the
// app's AccountService and TicketService, as the shop would after a login and a solved captcha.
import { createWriteStream } from 'node:fs';
import type { DataSource } from 'typeorm';
import { CookieCipher } from '../../src/lib/CookieCipher';
import { ProductRepository } from '../../src/repositories/ProductRepository';
import { SaleRepository } from '../../src/repositories/SaleRepository';
import { UserRepository } from '../../src/repositories/UserRepository';
import { AccountService } from '../../src/services/AccountService';
import { StoredSessionGenerations } from '../../src/services/SessionGenerations';
import { TicketService } from '../../src/services/TicketService';
import { benchProductName, benchUserName } from '../lib/toolsData';

export async function createShoppers(ds: DataSource, runId: string, count: number): Promise<number[]> {
  const users = new UserRepository(ds);
  // '!' is no scrypt hash: these accounts cannot log in with a password; they only hold bench cookies.
  const ids = await users.createMany(
    Array.from({ length: count }, (_, i) => ({ userName: benchUserName(runId, i), nickName: `Shopper ${i}`, passwordHash: '!', role: 'shopper' as const })),
  );
  if (ids.some((id) => id < 0)) throw new Error('some bench shoppers were not created');
  return ids;
}

/** A sale that opened a second ago (or opens in `startsInMs`) and stays open `openMs` from now. */
export async function createSale(ds: DataSource, runId: string, stock: number, openMs: number, startsInMs = -1000): Promise<number> {
  const productId = await new ProductRepository(ds).create({
    name: benchProductName(runId),
    description: 'Created by npm run bench.',
    image: '/img/phone.svg',
    priceCents: 69900,
  });
  const now = Date.now();
  return new SaleRepository(ds).create({ productId, stock, priceCents: 19900, startsAt: new Date(now + startsInMs), endsAt: new Date(now + Math.max(openMs, startsInMs + 1000)) });
}

/**
 * One line per shopper: purchase path, login cookie, tickets; `cookies[i]` is shopper i's login cookie (the
 * same one in every file, as a shopper keeps one cookie from the pre-sale to the sale). Shoppers are dealt to
 * `threads` files, `<file>.1` to `<file>.<threads>`, one per wrk thread, so that each thread reads only its
 * own share: wrk initialises its threads one after another, so a thread's set-up is time the others wait.
 */
export async function writeShopperFiles(
  file: string,
  threads: number,
  saleId: number,
  userIds: number[],
  cookies: string[],
  tickets: TicketService,
  ticketsPerShopper: number,
): Promise<void> {
  const outs = Array.from({ length: threads }, (_, k) => createWriteStream(`${file}.${k + 1}`));
  const now = Date.now();
  for (const [i, userId] of userIds.entries()) {
    const fields = [`/api/sales/${saleId}/buy/${tickets.pathFor(saleId, userId)}`, cookies[i]];
    for (let k = 0; k < ticketsPerShopper; k += 1) fields.push(tickets.issue(saleId, userId, now));
    const out = outs[i % threads];
    if (!out.write(`${fields.join('\t')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await Promise.all(
    outs.map((out) => new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))),
  );
}

/** The app's own token makers, on the app's key; `validMs` also sets the tickets' lifetime (the app's is 2 min). */
export function tokenMakers(ds: DataSource, cookieKeys: Buffer[], validMs: number) {
  return {
    accounts: new AccountService(new UserRepository(ds), new CookieCipher(cookieKeys), validMs, new StoredSessionGenerations(new UserRepository(ds), validMs)),
    tickets: new TicketService(cookieKeys[0], validMs),
  };
}
