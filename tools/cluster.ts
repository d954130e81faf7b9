// `npm run cluster`: several instances of the shop on this machine behind nginx, for trying the cluster out
// (docs/CLUSTER.md). Each instance is dist/src/server.js on a loopback port with INSTANCE_ID i1..iN; nginx
// routes by the consistent-hash ring on the shard cookie. Ctrl-C stops them all gracefully.
//
//   DATABASE_URL=mysql://... AMQP_URL=amqp://... COOKIE_KEYS=... npm run cluster -- [--instances 3] [--port 8080]
//
// Every other setting (ADMIN_USER, NODE_ENV, ...) is passed to the instances as it is.
import 'reflect-metadata';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/loadConfig';
import { Cluster } from './lib/cluster';

const USAGE = 'usage: DATABASE_URL=mysql://... AMQP_URL=amqp://... COOKIE_KEYS=... npm run cluster -- [--instances N] [--port P]';

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { instances: { type: 'string', default: '3' }, port: { type: 'string', default: '8080' } } });
  const instances = Number(values.instances);
  const port = Number(values.port);
  if (!Number.isInteger(instances) || instances < 1 || instances > 8 || !Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`${USAGE}\n--instances from 1 to 8, --port a TCP port`);
    return 2;
  }
  // The instances refuse to start without these; say so once, here, rather than N times in their logs.
  try {
    loadConfig({ ...env, INSTANCE_ID: 'i1' });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const root = packageRoot();
  const dir = mkdtempSync(path.join(tmpdir(), 'flash-sale-cluster-'));
  const { DATABASE_URL, AMQP_URL, COOKIE_KEYS, ...rest } = env;
  console.log(`starting ${instances} instances (logs in ${dir}) ...`);
  const cluster = await Cluster.start({
    root,
    instances,
    dir,
    databaseUrl: DATABASE_URL!,
    amqpUrl: AMQP_URL!,
    cookieKeys: COOKIE_KEYS!,
    env: { ...rest, COOKIE_SECURE: rest.COOKIE_SECURE ?? 'false', TRUST_PROXY: rest.TRUST_PROXY ?? '1' },
    balancerPort: port,
  });
  for (const i of cluster.live()) console.log(`  ${i.id}: ${i.url}  (log ${path.join(dir, `${i.id}.log`)})`);
  console.log(`the shop: ${cluster.url}  (nginx, hash $cookie_shard consistent); Ctrl-C stops everything`);
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  console.log('stopping: each instance returns its unsold units ...');
  await cluster.stopAll(30_000);
  return 0;
}

function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'dist', 'src', 'server.js'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the package root with dist/src/server.js (run npm run build)');
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`cluster: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
