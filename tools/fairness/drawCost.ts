// What one draw costs: N entries (200,000 by default in the docs), 10,000 units, on a fresh SQLite file or a
// fresh database on the MySQL/MariaDB server of DATABASE_URL. Measures the shuffle alone and the whole draw
// (claim, shuffle, winners' orders, every entry's outcome, one transaction), their time, the heap they add,
// the process's peak RSS, and the longest the event loop was held (what a refusal would wait meanwhile).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import pino from 'pino';
import { createDataSource } from '../../ormconfig';
import type { DatabaseConfig } from '../../src/config/loadConfig';
import { drawWinners, newDrawSeed } from '../../src/lib/drawShuffle';
import { DrawRepository } from '../../src/repositories/DrawRepository';
import { OrderRepository } from '../../src/repositories/OrderRepository';
import { SaleRepository } from '../../src/repositories/SaleRepository';
import { DrawService } from '../../src/services/DrawService';
import { MemoryInventory, SaleBook, saleWindow } from '../../src/services/SaleBook';

const UNITS = 10_000;
const MB = 1024 * 1024;

export async function measureDrawCost(entries: number, databaseUrl?: string) {
  const cleanups: (() => Promise<void> | void)[] = [];
  let database: DatabaseConfig;
  if (databaseUrl?.startsWith('mysql:')) {
    const name = `fs_drawcost_${randomBytes(4).toString('hex')}`;
    const admin = await mysql.createConnection(databaseUrl);
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await admin.end();
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    database = { kind: 'mysql', url: url.toString() };
    cleanups.push(async () => {
      const c = await mysql.createConnection(databaseUrl);
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    });
  } else {
    const dir = mkdtempSync(path.join(tmpdir(), 'drawcost-'));
    database = { kind: 'sqlite', path: path.join(dir, 'draw.sqlite') };
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  }
  const dataSource = createDataSource(database);
  try {
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    // Setup, not measured: the shoppers, a started draw sale and its entries, in multi-row statements.
    const now = Date.now();
    const stamp = new Date(now).toISOString().replace('T', ' ').replace('Z', '');
    for (let i = 0; i < entries; i += 1000) {
      const n = Math.min(1000, entries - i);
      const params: unknown[] = [];
      for (let j = 0; j < n; j++) params.push(`d${i + j}`, 'd', '!', 'shopper', stamp);
      await dataSource.query(`INSERT INTO users (user_name, nick_name, password_hash, role, created_at) VALUES ${new Array(n).fill('(?, ?, ?, ?, ?)').join(', ')}`, params);
    }
    const userIds = ((await dataSource.query('SELECT id FROM users ORDER BY id')) as { id: number }[]).map((r) => Number(r.id));
    await dataSource.query("INSERT INTO products (name, description, image, price_cents, created_at) VALUES ('p', '', '', 100, ?)", [stamp]);
    const [{ id: productId }] = (await dataSource.query('SELECT MAX(id) AS id FROM products')) as { id: number }[];
    const sales = new SaleRepository(dataSource);
    const input = { productId: Number(productId), stock: UNITS, priceCents: 50, startsAt: new Date(now - 20_000), endsAt: new Date(now + 3_600_000), allocation: 'draw' as const, drawWindowSeconds: 10 };
    const saleId = await sales.create(input, newDrawSeed());
    for (let i = 0; i < userIds.length; i += 1000) {
      const chunk = userIds.slice(i, i + 1000);
      await dataSource.query(
        `INSERT INTO draw_entries (sale_id, user_id, created_at) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
        chunk.flatMap((u) => [saleId, u, stamp]),
      );
    }

    // The shuffle alone.
    global.gc?.();
    const seed = newDrawSeed().seed;
    const heap0 = process.memoryUsage().heapUsed;
    const s0 = performance.now();
    const winners = drawWinners(seed, userIds, UNITS);
    const shuffleMs = performance.now() - s0;
    const shuffleHeapMb = (process.memoryUsage().heapUsed - heap0) / MB;

    // The whole draw, as a process runs it at the end of the window.
    const orders = new OrderRepository(dataSource);
    const book = new SaleBook(new MemoryInventory());
    book.put(saleWindow({ id: saleId, ...input }));
    book.inventory.load(saleId, UNITS, []);
    const service = new DrawService(new DrawRepository(dataSource, orders), sales, orders, book, pino({ level: 'silent' }));
    await service.load(saleId);
    global.gc?.();
    const before = process.memoryUsage();
    // A 1 ms ticker: the longest gap between its ticks is the longest a request would have waited.
    const d0 = performance.now();
    let heapPeak = before.heapUsed;
    let lastTick = d0;
    let longestGap = 0;
    const sampler = setInterval(() => {
      const t = performance.now();
      longestGap = Math.max(longestGap, t - lastTick);
      lastTick = t;
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }, 1);
    await service.draw(saleId, now);
    const drawMs = performance.now() - d0;
    await new Promise((resolve) => setTimeout(resolve, 5)); // the tick after the draw's last step
    clearInterval(sampler);
    const written = await orders.countBySale(saleId);
    return {
      database: database.kind,
      entries,
      units: UNITS,
      winners: winners.length,
      ordersWritten: written,
      shuffle: { ms: Math.round(shuffleMs), heapMb: Math.round(shuffleHeapMb) },
      draw: {
        ms: Math.round(drawMs),
        heapAddedMb: Math.round((Math.max(heapPeak, process.memoryUsage().heapUsed) - before.heapUsed) / MB),
        longestEventLoopBlockMs: Math.round(longestGap),
      },
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    for (const f of cleanups) await f();
  }
}
