// Runs wrk with the bench's Lua script and reads back what the script recorded.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startChild } from '../lib/processes';

export interface WrkThread {
  shoppers: number;
  responses: number;
  accepted: number;
  /** Wall-clock ms (epoch) or 0 when it never happened. */
  firstRequestAt: number;
  lastAcceptedAt: number;
  firstSoldOutAt: number;
  codes: Record<string, number>;
  /** Responses per 10 ms bucket, keyed by floor(epoch ms / 10). */
  hist: Record<string, number>;
}

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number; max: number; mean: number };
  threads: WrkThread[];
}

export interface WrkRun {
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  timeoutS: number;
  script: string;
  /** The shopper files' common name: wrk thread k reads `<dataFile>.<k>` (see writeShopperFiles). */
  dataFile: string;
  tickets: number;
  /** The login cookie's name in the app under test. */
  cookieName: string;
  /** Where the result JSON, the accepted ids and the log go. */
  dir: string;
  name: string;
}

export const WRK = '/usr/bin/wrk';

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const out = path.join(run.dir, `${run.name}.wrk.json`);
  // The script's start barrier: no thread may find another's mark from an earlier run in this directory.
  const clearMarks = () => {
    for (let k = 1; k <= run.threads; k += 1) rmSync(path.join(run.dir, `started-${k}`), { force: true });
  };
  clearMarks();
  const child = startChild(
    WRK,
    [
      `-t${run.threads}`,
      `-c${run.connections}`,
      `-d${run.durationS}s`,
      `--timeout`,
      `${run.timeoutS}s`,
      '--latency',
      '-s',
      run.script,
      run.url,
    ],
    {
      logFile: path.join(run.dir, `${run.name}.wrk.log`),
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        BENCH_DATA: run.dataFile,
        BENCH_THREADS: String(run.threads),
        BENCH_TICKETS: String(run.tickets),
        BENCH_COOKIE: run.cookieName,
        BENCH_ACCEPTED_DIR: run.dir,
        BENCH_OUT: out,
      },
    },
  );
  // Loading the shoppers takes a moment; past the run's length plus a margin, wrk is stuck: stop it.
  const bound = setTimeout(() => child.proc.kill('SIGKILL'), (run.durationS + 60) * 1000);
  const code = await child.exited;
  clearTimeout(bound);
  clearMarks();
  if (code !== 0 || !existsSync(out)) {
    throw new Error(`wrk (${run.name}) failed with ${code}; see ${path.join(run.dir, `${run.name}.wrk.log`)}`);
  }
  return JSON.parse(readFileSync(out, 'utf8')) as WrkResult;
}

/** Accepted (or uncertain) request ids the script wrote, one file per wrk thread. */
export function readIds(dir: string, kind: 'accepted' | 'uncertain', threads: number): string[] {
  const ids: string[] = [];
  for (let t = 1; t <= threads; t += 1) {
    const file = path.join(dir, `${kind}-${t}.txt`);
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) if (line.trim()) ids.push(line.trim());
  }
  return ids;
}
