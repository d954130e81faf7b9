// `npm run audit -- --sale <id> [--accepted <file>] [--uncertain <file>] [--json]`: checks a sale's
// invariants against the configured database (DATABASE_URL, as the app), prints each check, exits 1 on any
// failure (2 on a usage or connection error).
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createDataSource } from '../../ormconfig';
import { ConfigError, loadConfig } from '../config/loadConfig';
import { DrawRepository } from '../repositories/DrawRepository';
import { OrderRepository } from '../repositories/OrderRepository';
import { SaleRepository } from '../repositories/SaleRepository';
import { AuditReport, AuditService } from '../services/AuditService';

const USAGE = 'usage: npm run audit -- --sale <id> [--accepted <file>] [--uncertain <file>] [--json]';

/** One request id per line; blank lines and surrounding spaces are ignored. */
export function readIdFile(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

export function formatAudit(report: AuditReport): string {
  const lines = report.checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}  (${c.detail})`);
  lines.push(report.ok ? `audit of sale ${report.saleId}: ok` : `audit of sale ${report.saleId}: ${report.failures.length} FAILED`);
  return lines.join('\n');
}

export async function audit(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        sale: { type: 'string' },
        accepted: { type: 'string' },
        uncertain: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    err.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const saleId = Number(values.sale);
  if (!values.sale || !Number.isInteger(saleId) || saleId <= 0) {
    err.write(`--sale must be a sale id\n${USAGE}\n`);
    return 2;
  }
  let accepted: string[] | undefined;
  let uncertain: string[] | undefined;
  try {
    accepted = values.accepted ? readIdFile(values.accepted) : undefined;
    uncertain = values.uncertain ? readIdFile(values.uncertain) : undefined;
  } catch (e) {
    err.write(`audit: ${(e as Error).message}\n`);
    return 2;
  }
  let config;
  try {
    // Only the database matters here; the rest of the app's settings are not required to audit.
    config = loadConfig({ DATABASE_URL: env.DATABASE_URL, NODE_ENV: 'development' });
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const dataSource = createDataSource(config.database);
  try {
    await dataSource.initialize();
    const orders = new OrderRepository(dataSource);
    const service = new AuditService(new SaleRepository(dataSource), orders, new DrawRepository(dataSource, orders));
    const report = await service.audit({ saleId, accepted, uncertain });
    out.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatAudit(report)}\n`);
    return report.ok ? 0 : 1;
  } catch (e) {
    err.write(`audit: could not read the database: ${(e as Error).message}\n`);
    return 2;
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
  }
}

if (require.main === module) {
  audit(process.argv.slice(2), process.env, process.stdout, process.stderr).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`audit: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(2);
    },
  );
}
