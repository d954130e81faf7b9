// The bench's cluster phase (--instances N): after the single process's run, the same crowd buys a sale of
// the same stock from N instances behind nginx (tools/lib/cluster.ts), and the bench reads what sharing the
// stock costs: CPU per accepted purchase against the single process's, calls to the stock authority per
// accepted purchase and per refusal, units stranded, and the balancer's CPU per request.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { shardKey } from '../../src/lib/shard';
import { OrderRepository } from '../../src/repositories/OrderRepository';
import { SaleRepository } from '../../src/repositories/SaleRepository';
import { AuditReport, AuditService } from '../../src/services/AuditService';
import { Health, salesOpen } from '../lib/appProcess';
import { Cluster } from '../lib/cluster';
import { sleep } from '../lib/processes';
import { createSale, tokenMakers, writeShopperFiles } from './prepare';
import { readIds, runWrk, WrkResult, WrkRun } from './wrk';

export interface ClusterFigures {
  instances: number;
  balancer: string;
  accepted: number;
  requests: number;
  rps: number;
  p99Ms: number;
  /** CPU of all instances (worker threads included, the balancer apart) per accepted purchase, in µs. */
  cpuUsPerAcceptedPurchase: number;
  /** The single process's figure, from the same bench run. */
  singleCpuUsPerAcceptedPurchase: number;
  /** The same CPU per response (purchase or refusal), beside the single process's: the cost of the path itself. */
  cpuUsPerResponse: number;
  singleCpuUsPerResponse: number;
  /** Calls to the authority from the instances' starts to the end of the run, per accepted purchase. */
  authorityOpsPerAcceptedPurchase: number;
  /** Stock calls during a run of refusals only (the sale sold out everywhere), per refusal. */
  authorityOpsPerRefusal: number;
  authorityOps: { stock: number; heartbeat: number };
  /** Units left unsold at the end although the crowd was larger than the stock. */
  strandedUnits: number;
  balancerCpuUsPerRequest: number;
  /** Messages sent on the cluster bus, summed over the instances, per accepted purchase. */
  busMessagesPerAcceptedPurchase: number;
}

export interface ClusterPhaseInput {
  say: (line: string) => void;
  root: string;
  runDir: string;
  runId: string;
  ds: DataSource;
  databaseUrl: string;
  amqpUrl: string;
  keysRaw: string;
  cookieKeys: Buffer[];
  queueName: string;
  /** The settings the single process ran with (guards, NODE_ENV, ...). */
  appEnv: NodeJS.ProcessEnv;
  instances: number;
  stock: number;
  userIds: number[];
  cookies: string[];
  validMs: number;
  warmupS: number;
  wrkRun: Omit<WrkRun, 'url' | 'dir' | 'name' | 'dataFile'>;
  single: { cpuUs: number; accepted: number; requests: number };
}

/** Seconds of refusals only, after the measured run, for the authority calls per refusal. */
const TAIL_S = 3;

export async function measureCluster(i: ClusterPhaseInput): Promise<{ figures: ClusterFigures; audit: AuditReport; saleId: number }> {
  const { say, ds } = i;
  const dir = path.join(i.runDir, 'cluster');
  mkdirSync(dir, { recursive: true });
  const { tickets } = tokenMakers(ds, i.cookieKeys, i.validMs);
  // Each shopper's cookie with the shard the app sets at login, so that nginx keeps each one on one instance.
  const cookies = i.cookies.map((c, n) => `${c}; shard=${shardKey(i.cookieKeys[0], i.userIds[n])}`);
  const saleId = await createSale(ds, `${i.runId}-cluster`, i.stock, i.validMs);
  const dataFile = path.join(dir, 'shoppers.tsv');
  await writeShopperFiles(dataFile, i.wrkRun.threads, saleId, i.userIds, cookies, tickets, i.wrkRun.tickets);
  let warm: { saleId: number; dataFile: string } | null = null;
  if (i.warmupS > 0) {
    warm = { saleId: await createSale(ds, `${i.runId}-cluster-presale`, i.stock, i.validMs, i.validMs), dataFile: path.join(dir, 'shoppers-presale.tsv') };
    await writeShopperFiles(warm.dataFile, i.wrkRun.threads, warm.saleId, i.userIds, cookies, tickets, i.wrkRun.tickets);
  }
  const orders = new OrderRepository(ds);
  const sales = new SaleRepository(ds);

  say(`cluster: ${i.instances} instances behind nginx (hash $cookie_shard consistent), sale ${saleId} of ${i.stock} ...`);
  const cluster = await Cluster.start({
    root: i.root,
    instances: i.instances,
    dir,
    databaseUrl: i.databaseUrl,
    amqpUrl: i.amqpUrl,
    cookieKeys: i.keysRaw,
    env: { ...i.appEnv, QUEUE_NAME: `${i.queueName}-cluster` },
    ready: (h: Health) => salesOpen(h) && (h.cluster as { settled?: boolean } | undefined)?.settled === true,
  });
  let main: WrkResult;
  let tail: WrkResult;
  let cpuUs: number;
  let balancerUs: number;
  let opsMain: Ops;
  let opsTail: Ops;
  let acceptedIds: string[];
  let uncertainIds: string[];
  try {
    const ids = cluster.live().map((x) => x.id);
    if (warm) {
      say(`cluster: pre-sale for ${i.warmupS} s (not measured) ...`);
      mkdirSync(path.join(dir, 'warmup'), { recursive: true });
      await runWrk({ ...i.wrkRun, dataFile: warm.dataFile, durationS: i.warmupS, url: `${cluster.url}/`, dir: path.join(dir, 'warmup'), name: 'cluster-presale' });
      await sleep(1500);
    }
    const cpu0 = ids.map((id) => cluster.cpuUs(id));
    const nginx0 = cluster.balancerCpuUs();
    mkdirSync(path.join(dir, 'main'), { recursive: true });
    say(`cluster: purchase through ${cluster.url}, ${i.wrkRun.durationS} s ...`);
    main = await runWrk({ ...i.wrkRun, dataFile, url: `${cluster.url}/`, dir: path.join(dir, 'main'), name: 'cluster' });
    cpuUs = ids.reduce((sum, id, n) => sum + cluster.cpuUs(id) - cpu0[n], 0);
    balancerUs = cluster.balancerCpuUs() - nginx0;
    opsMain = await scrapeOps(cluster);
    // The tail measures refusals alone: it starts once nothing is left anywhere (bounded).
    const t0 = Date.now();
    while (!(await soldOutEverywhere(ds, saleId, cluster)) && Date.now() - t0 < 15_000) await sleep(200);
    opsMain = await scrapeOps(cluster);
    mkdirSync(path.join(dir, 'tail'), { recursive: true });
    say(`cluster: ${TAIL_S} s more of refusals only (sold out) ...`);
    tail = await runWrk({ ...i.wrkRun, dataFile, durationS: TAIL_S, url: `${cluster.url}/`, dir: path.join(dir, 'tail'), name: 'cluster-tail' });
    opsTail = await scrapeOps(cluster);
    acceptedIds = [...readIds(path.join(dir, 'main'), 'accepted', i.wrkRun.threads), ...readIds(path.join(dir, 'tail'), 'accepted', i.wrkRun.threads)];
    uncertainIds = [...readIds(path.join(dir, 'main'), 'uncertain', i.wrkRun.threads), ...readIds(path.join(dir, 'tail'), 'uncertain', i.wrkRun.threads)];
    const t = Date.now();
    while ((await orders.countBySale(saleId)) < acceptedIds.length && Date.now() - t < 60_000) await sleep(100);
  } finally {
    say('cluster: stopping the instances (SIGTERM: each returns its unsold units) ...');
    await cluster.stopAll(30_000);
  }
  const audit = await new AuditService(sales, orders).audit({ saleId, accepted: acceptedIds, uncertain: uncertainIds });
  const sale = await sales.findById(saleId);
  const accepted = acceptedIds.length;
  const tailAccepted = sumThreads(tail, (t) => t.accepted);
  const soldOutTold = sumThreads(main, (t) => t.codes.SOLD_OUT ?? 0) + sumThreads(tail, (t) => t.codes.SOLD_OUT ?? 0) > 0;
  const figures: ClusterFigures = {
    instances: i.instances,
    balancer: 'nginx hash $cookie_shard consistent',
    accepted,
    requests: main.requests,
    rps: Math.round(main.requests / (main.durationUs / 1e6)),
    p99Ms: round(main.latencyUs.p99 / 1000),
    cpuUsPerAcceptedPurchase: round(cpuUs / Math.max(1, accepted - tailAccepted)),
    singleCpuUsPerAcceptedPurchase: round(i.single.cpuUs / Math.max(1, i.single.accepted)),
    cpuUsPerResponse: round(cpuUs / Math.max(1, main.requests)),
    singleCpuUsPerResponse: round(i.single.cpuUs / Math.max(1, i.single.requests)),
    authorityOpsPerAcceptedPurchase: round((opsMain.stock + opsMain.heartbeat) / Math.max(1, accepted), 4),
    authorityOpsPerRefusal: round((opsTail.stock - opsMain.stock) / Math.max(1, tail.requests - tailAccepted), 6),
    authorityOps: { stock: opsMain.stock, heartbeat: opsMain.heartbeat },
    strandedUnits: soldOutTold && sale ? Math.max(0, sale.stock - (await orders.countBySale(saleId))) : 0,
    balancerCpuUsPerRequest: round(balancerUs / Math.max(1, main.requests), 2),
    busMessagesPerAcceptedPurchase: round(opsMain.busSent / Math.max(1, accepted), 4),
  };
  say(
    `cluster: ${accepted} accepted; CPU per accepted purchase ${figures.cpuUsPerAcceptedPurchase} µs over ${i.instances} instances ` +
      `(single process ${figures.singleCpuUsPerAcceptedPurchase} µs, x${round(figures.cpuUsPerAcceptedPurchase / Math.max(1, figures.singleCpuUsPerAcceptedPurchase), 2)}); ` +
      `per response ${figures.cpuUsPerResponse} µs (single ${figures.singleCpuUsPerResponse} µs); ` +
      `authority calls ${opsMain.stock} stock + ${opsMain.heartbeat} heartbeat = ${figures.authorityOpsPerAcceptedPurchase} per accepted, ` +
      `${figures.authorityOpsPerRefusal} per refusal; stranded ${figures.strandedUnits}; nginx ${figures.balancerCpuUsPerRequest} µs per request; audit ${audit.ok ? 'ok' : 'FAILED'}`,
  );
  return { figures, audit, saleId };
}

/** Nothing unleased at the authority and nothing held by any instance. */
async function soldOutEverywhere(ds: DataSource, saleId: number, cluster: Cluster): Promise<boolean> {
  const [row] = (await ds.query('SELECT unleased FROM flash_sales WHERE id = ?', [saleId])) as { unleased: number }[];
  if (Number(row?.unleased ?? 1) > 0) return false;
  for (const instance of cluster.live()) {
    const h = (await (await fetch(`${instance.url}/healthz`)).json()) as { cluster?: { heldUnits?: number } };
    if ((h.cluster?.heldUnits ?? 1) > 0) return false;
  }
  return true;
}

interface Ops {
  stock: number;
  heartbeat: number;
  busSent: number;
}

/** The instances' authority and bus counters from their /metrics, summed (an instance that is gone counts 0). */
async function scrapeOps(cluster: Cluster): Promise<Ops> {
  const total: Ops = { stock: 0, heartbeat: 0, busSent: 0 };
  for (const instance of cluster.live()) {
    const text = await (await fetch(`${instance.url}/metrics`)).text();
    total.stock += metric(text, 'flashsale_cluster_authority_ops_total', 'kind="stock"');
    total.heartbeat += metric(text, 'flashsale_cluster_authority_ops_total', 'kind="heartbeat"');
    total.busSent += metric(text, 'flashsale_cluster_bus_messages_total', 'direction="sent"');
  }
  return total;
}

function metric(text: string, name: string, label: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

function sumThreads(r: WrkResult, f: (t: WrkResult['threads'][number]) => number): number {
  return r.threads.reduce((s, t) => s + f(t), 0);
}

function round(x: number, digits = 1): number {
  const m = 10 ** digits;
  return Math.round(x * m) / m;
}
