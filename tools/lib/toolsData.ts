// The tools' own database access, in one place: every SQL statement the bench and the chaos drill need that
// the app's repositories do not have (and should not: the app never removes a run or creates a database).
// Where a repository already has the query, these functions use it.
import { execFileSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../ormconfig';
import { loadConfig } from '../../src/config/loadConfig';
import { OrderRepository } from '../../src/repositories/OrderRepository';

// ------------------------------------------------------------------------------ a bench run's rows

/** The product of a bench sale; `removeBenchRun` finds a run's sales through it. */
export function benchProductName(runId: string): string {
  return `Bench phone ${runId}`;
}

/** Shopper `i` of a bench run; `removeBenchRun` finds a run's shoppers by the prefix. */
export function benchUserName(runId: string, i: number): string {
  return `${benchUserPrefix(runId)}${i}`;
}

function benchUserPrefix(runId: string): string {
  return `bench-${runId}-`;
}

/**
 * Removes what a bench run made (its sale and pre-sale, their product and orders, its shoppers), orders
 * first, so that runs sharing a database do not pile up in it: a large users table outgrows MariaDB's
 * buffer pool and slows every later run's order writes.
 */
export async function removeBenchRun(ds: DataSource, runId: string): Promise<void> {
  // Run ids are a timestamp and hex digits: nothing LIKE would read as a wildcard.
  if (!/^[0-9A-Za-z-]+$/.test(runId)) throw new Error(`not a bench run id: ${runId}`);
  await ds.transaction(async (m) => {
    // The run's sales: its own, and those of its pre-sale, journey and cluster phases (`<runId>-<phase>`).
    const products = `SELECT id FROM products WHERE name = ? OR name LIKE ?`;
    const names = [benchProductName(runId), `${benchProductName(runId)}-%`];
    const sales = `SELECT id FROM flash_sales WHERE product_id IN (${products})`;
    await m.query(`DELETE FROM orders WHERE sale_id IN (SELECT id FROM (${sales}) AS s)`, names);
    await m.query(`DELETE FROM stock_leases WHERE sale_id IN (SELECT id FROM (${sales}) AS s)`, names);
    await m.query(`DELETE FROM flash_sales WHERE product_id IN (SELECT id FROM (${products}) AS p)`, names);
    await m.query(`DELETE FROM products WHERE name = ? OR name LIKE ?`, names);
    await m.query(`DELETE FROM users WHERE user_name LIKE ?`, [`${benchUserPrefix(runId)}%`]);
  });
}

// ------------------------------------------------------------------- the chaos drill's databases

/** A fresh, empty database on a MariaDB server (any earlier one of that name dropped); returns its URL. */
export async function createScenarioDatabase(serverUrl: string, name: string): Promise<string> {
  const conn = await mysql.createConnection({ uri: serverUrl });
  try {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteName(name)}`);
    await conn.query(`CREATE DATABASE ${quoteName(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end().catch(() => undefined);
  }
  return `${serverUrl}/${name}`;
}

export async function dropScenarioDatabase(serverUrl: string, name: string): Promise<void> {
  const conn = await mysql.createConnection({ uri: serverUrl });
  try {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteName(name)}`);
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/**
 * The same drop, synchronous, through the `mariadb` client: for an 'exit' handler, which cannot wait for a
 * promise. Throws when the client fails.
 */
export function dropScenarioDatabaseSync(serverUrl: string, name: string): void {
  const u = new URL(serverUrl);
  const args = ['-h', u.hostname, '-P', u.port || '3306', '-u', decodeURIComponent(u.username || 'root')];
  if (u.password) args.push(`-p${decodeURIComponent(u.password)}`);
  execFileSync('mariadb', [...args, '-e', `DROP DATABASE IF EXISTS ${quoteName(name)}`], { stdio: 'ignore', timeout: 20_000 });
}

/** Scenario database names are the drill's own (run id and scenario key); refuse anything else. */
function quoteName(name: string): string {
  if (!/^[0-9A-Za-z_]+$/.test(name)) throw new Error(`not a scenario database name: ${name}`);
  return `\`${name}\``;
}

// ------------------------------------------------- a sale's orders, read while faults come and go

/**
 * Runs `f` on the app's OrderRepository over a data source opened for this call alone: the drill holds no
 * pool through a fault, so a check made right after a restart never meets a pool's dead connections.
 */
async function withOrders<T>(databaseUrl: string, f: (orders: OrderRepository) => Promise<T>): Promise<T> {
  const ds = createDataSource(loadConfig({ DATABASE_URL: databaseUrl, NODE_ENV: 'development' }).database);
  await ds.initialize();
  try {
    return await f(new OrderRepository(ds));
  } finally {
    await ds.destroy().catch(() => undefined);
  }
}

export function countSaleOrders(databaseUrl: string, saleId: number): Promise<number> {
  return withOrders(databaseUrl, (orders) => orders.countBySale(saleId));
}

export async function saleRequestIds(databaseUrl: string, saleId: number): Promise<Set<string>> {
  return new Set(await withOrders(databaseUrl, (orders) => orders.requestIdsBySale(saleId)));
}

/** A `SELECT COUNT(*) AS n ...` of a fault drill's own, on a connection opened for this call alone. */
export async function countRows(databaseUrl: string, sql: string): Promise<number> {
  const conn = await mysql.createConnection({ uri: databaseUrl });
  try {
    const [rows] = await conn.query(sql);
    return Number((rows as { n: number }[])[0]?.n ?? 0);
  } finally {
    await conn.end().catch(() => undefined);
  }
}
