// `npm run test:chaos`: the fault drill. During a bench-style load on the real MariaDB and RabbitMQ, each
// scenario injects one fault (broker restart, SIGKILL, SIGTERM, database restart, a poison message; and with
// several instances behind nginx: one killed, one cut off from the authority, the authority restarted, one
// added), heals, drains, and checks that nothing accepted was lost, nothing was sold twice or oversold, no
// shopper was told "accepted" twice and, with several instances, no unit was stranded.
//
//   npm run test:chaos -- [--only 2,3,5] [--stock 1500] [--users 4000] [--concurrency 64] [--rate 600]
//                         [--wait-others 300] [--keep-logs]
//
// Uses mysql://root@127.0.0.1:3306 (or DATABASE_URL's server) and amqp://guest:guest@127.0.0.1:5672 (or
// AMQP_URL); each scenario gets a fresh database and queue, dropped afterwards. Exits 0 when every check of
// every scenario passes, 1 when any fails, 2 on a usage error.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { installExitHook, mysqlServerUrl } from './chaos/backends';
import { ChaosSettings, runScenario, SCENARIOS } from './chaos/scenarios';
import { formatChecks, formatTable, passed, ScenarioResult } from './chaos/verify';
import { redactUrl } from '../src/lib/redactUrl';

const USAGE = `usage: npm run test:chaos -- [--only 1,2,...,9] [--stock N] [--users N] [--concurrency N] [--rate N]
                            [--wait-others S] [--keep-logs]`;

function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'dist', 'src', 'server.js'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the package root with dist/src/server.js (run npm run build)');
  }
}


export async function chaos(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const say = (line: string) => out.write(`${line}\n`);
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        only: { type: 'string' },
        stock: { type: 'string', default: '1500' },
        users: { type: 'string', default: '4000' },
        concurrency: { type: 'string', default: '64' },
        rate: { type: 'string', default: '600' },
        'wait-others': { type: 'string', default: '300' },
        'keep-logs': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    say(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    say(USAGE);
    return 2;
  }
  const int = (name: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  let only: number[];
  let settings: ChaosSettings;
  try {
    only = values.only ? values.only.split(',').map((x) => int('only', x.trim(), 1, SCENARIOS.length)) : SCENARIOS.map((_, i) => i + 1);
    const runId = randomBytes(3).toString('hex');
    settings = {
      runId,
      dir: path.join(tmpdir(), `flash-sale-chaos-${runId}`),
      root: packageRoot(),
      mysqlServerUrl: mysqlServerUrl(env),
      amqpUrl: env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672',
      cookieKeys: randomBytes(16).toString('base64'),
      stock: int('stock', values.stock, 10, 100_000),
      users: int('users', values.users, 10, 200_000),
      concurrency: int('concurrency', values.concurrency, 1, 1024),
      ratePerSecond: int('rate', values.rate, 10, 100_000),
      retryDelayMs: 200,
      userIntervalMs: 200,
      loadDurationMs: 20_000,
      faultAt: 0.3,
      waitOthersMs: int('wait-others', values['wait-others'], 0, 3600) * 1000,
    };
  } catch (e) {
    say(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const s = settings;
  mkdirSync(s.dir, { recursive: true });
  installExitHook();

  // Bounded as a whole: a stuck step ends the drill; the exit hooks kill the apps and bring services back.
  const watchdogMs = 15 * 60_000 + 2 * s.waitOthersMs;
  const watchdog = setTimeout(() => {
    say(`chaos: gave up after ${watchdogMs / 1000} s`);
    process.exit(1);
  }, watchdogMs);
  watchdog.unref();

  const t0 = Date.now();
  say(`chaos drill ${s.runId}: ${s.stock} stock, ${s.users} shoppers, ${s.concurrency} requests in flight at most, ${s.ratePerSecond} attempts/s`);
  say(`  MariaDB ${redactUrl(s.mysqlServerUrl)}, RabbitMQ ${redactUrl(s.amqpUrl)}; a fresh database and queue per scenario`);
  say(`  app settings: USER_INTERVAL_MS=${s.userIntervalMs} (shoppers retry ${s.retryDelayMs}-${2 * s.retryDelayMs} ms after a refusal), IP_LIMIT=1000000000 (all load is from 127.0.0.1)`);
  say(`  fault at ${Math.round(s.faultAt * 100)}% of the stock accepted; load bounded at ${s.loadDurationMs / 1000} s per scenario`);
  say('  requests: accepted = 202 + request id; refused = a code and no request id, or a connection refused at connect');
  say('  time (no byte reached the shop); unknown = no answer (reset, hang-up, timeout) or a 503 carrying a request id');
  // Scenarios that restart a shared service go last, to give other runs on the machine time to finish.
  const order = [...only].sort((a, b) => Number(SCENARIOS[a - 1].restartsService) - Number(SCENARIOS[b - 1].restartsService) || a - b);
  const results: ScenarioResult[] = [];
  for (const n of order) {
    let r = await runScenario(n, SCENARIOS[n - 1], s, say);
    for (let retry = 1; r.busy && retry <= 2; retry += 1) {
      say(`  ${r.notes.at(-1)}; trying again`);
      const waited = r.ms;
      r = await runScenario(n, SCENARIOS[n - 1], s, say);
      r.waitedMs += waited;
      r.ms += waited;
    }
    results.push(r);
    say(`  ${passed(r) ? 'PASS' : 'FAIL'} in ${((r.ms - r.waitedMs) / 1000).toFixed(1)} s`);
    for (const note of r.notes) say(`    - ${note}`);
    say(formatChecks(r));
  }
  clearTimeout(watchdog);
  results.sort((a, b) => a.n - b.n);
  const ok = results.length > 0 && results.every(passed);
  say('');
  say(formatTable(results));
  say('');
  const waited = results.reduce((sum, r) => sum + r.waitedMs, 0);
  say(
    `chaos drill ${ok ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
      (waited > 1000 ? ` (${(waited / 1000).toFixed(0)} s of it waiting for other runs)` : '') +
      '; lost, duplicated, oversold, double-202 and (several instances) stranded must be 0 in every scenario',
  );
  if (!ok) for (const r of results) for (const c of r.checks) if (!c.ok) say(`  FAIL [${r.n}] ${c.name}: ${c.detail}`);
  if (ok && !values['keep-logs']) rmSync(s.dir, { recursive: true, force: true });
  else say(`logs (app, every request): ${s.dir}`);
  return ok ? 0 : 1;
}

if (require.main === module) {
  // Signals end the drill through process.exit, so the exit hooks (kill the apps, restart services) run.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nchaos: ${signal}; stopping\n`);
      process.exit(130);
    });
  }
  chaos(process.argv.slice(2), process.env, process.stdout).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`chaos: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
