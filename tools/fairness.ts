// `npm run simulate:fairness -- [--json FILE] [--seeds N] [--humans N --bots N --units N --window S] [--draw-cost N]`:
// the bots' share of the units against their share of the crowd, for first come and for a draw, through the
// shop's real purchase path, draw and order writer under a simulated clock (tools/fairness/simulate.ts).
// `--draw-cost N` instead measures one draw of N entries: its time and memory (tools/fairness/drawCost.ts).
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDataSource } from '../ormconfig';
import { loadConfig } from '../src/config/loadConfig';
import { measureDrawCost } from './fairness/drawCost';
import { createCrowd, Mode, RunResult, runOpening } from './fairness/simulate';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'string' },
      seeds: { type: 'string', default: '5' },
      humans: { type: 'string', default: '10000' },
      bots: { type: 'string', default: '500' },
      units: { type: 'string', default: '1000' },
      window: { type: 'string', default: '10' },
      'draw-cost': { type: 'string' },
    },
  });
  if (values['draw-cost']) {
    const figures = await measureDrawCost(Number(values['draw-cost']), process.env.DATABASE_URL);
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify(figures, null, 2)}\n`);
    return;
  }
  const seeds = Array.from({ length: Math.max(1, Number(values.seeds)) }, (_, i) => i + 1);
  const dir = mkdtempSync(path.join(tmpdir(), 'fairness-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: `sqlite:${path.join(dir, 'fairness.sqlite')}`,
    COOKIE_KEYS: Buffer.alloc(16, 9).toString('base64'),
    // The route's overload guards are not what is measured: the crowd is paced, and every shopper has an address.
    PURCHASE_BUCKET_PER_SECOND: '1000000',
    PURCHASE_BUCKET_CAPACITY: '1000000',
  });
  if (config.database.kind !== 'sqlite') throw new Error('the simulation runs on its own SQLite file');
  const dataSource = createDataSource(config.database);
  try {
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    const crowd = await createCrowd(dataSource, Number(values.humans), Number(values.bots));
    const runs: RunResult[] = [];
    for (const seed of seeds) {
      for (const mode of ['firstCome', 'draw'] as Mode[]) {
        const r = await runOpening({ dataSource, config, ...crowd }, mode, seed, Number(values.units), Number(values.window));
        runs.push(r);
        process.stderr.write(
          `seed ${seed} ${mode.padEnd(9)} sold ${r.sold}, bots ${r.botUnits} (share ${r.botShare.toFixed(3)}, advantage ${r.advantage.toFixed(2)})` +
            `${mode === 'draw' ? `, entries ${r.entries}` : ''}, audit ${r.auditOk ? 'ok' : 'FAILED'}, ${r.ms} ms\n`,
        );
      }
    }
    const summary = (mode: Mode) => {
      const of = runs.filter((r) => r.mode === mode);
      return {
        botShare: mean(of.map((r) => r.botShare)),
        headShare: mean(of.map((r) => r.headShare)),
        advantage: mean(of.map((r) => r.advantage)),
        perSeed: of.map((r) => ({ seed: r.seed, sold: r.sold, botUnits: r.botUnits, entries: r.entries, advantage: r.advantage, auditOk: r.auditOk })),
      };
    };
    const out = {
      modes: { firstCome: summary('firstCome'), draw: summary('draw') },
      seeds,
      crowd: { humans: crowd.humans.length, bots: crowd.bots.length, units: Number(values.units), drawWindowSeconds: Number(values.window) },
      auditOk: runs.every((r) => r.auditOk),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
    if (!out.auditOk) process.exitCode = 1;
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`simulate:fairness: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
