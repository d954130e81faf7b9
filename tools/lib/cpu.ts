// CPU accounting for a measured phase, from /proc: how much of the machine the app, the load generator
// and everything else used. These machines are shared; a run where other processes took a core is not
// comparable with one where they did not, and the report says so.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

export const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Mark {
  at: number;
  machineBusy: number;
  /** The bench and every child it has reaped (wrk, the baseline server), in ticks. */
  self: number;
  /** The target process (the app or the baseline server), in ticks; 0 when it is not ours. */
  target: number;
  /** The back-end services the app uses (RabbitMQ, MariaDB), in ticks. */
  backends: number;
}

/** Process names of the shared services on this machine: part of the system under test, not noise. */
const BACKENDS = /^(beam\.smp|erl_child_setup|epmd|inet_gethost|mariadbd|mysqld|redis-server)$/;

export interface CpuUse {
  cores: number;
  /** Length of the phase. */
  seconds: number;
  /** Average cores used over the phase. */
  target: number;
  generator: number;
  /** RabbitMQ, MariaDB (and Redis), whoever else is using them at the time. */
  backends: number;
  other: number;
  idle: number;
}

/** CPU ticks of every process whose name matches, the shared services by default. */
export function namedProcessTicks(names: RegExp = BACKENDS): number {
  let sum = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (names.test(readFileSync(`/proc/${name}/comm`, 'utf8').trim())) sum += processTicks(Number(name), false);
    } catch {
      // gone already
    }
  }
  return sum;
}

function machineBusy(): number {
  // cpu  user nice system idle iowait irq softirq steal ...; steal (the hypervisor's) is left out, as idle is.
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6];
}

export function processTicks(pid: number | 'self', children: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: state is field 3; utime 14, stime 15, cutime 16, cstime 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(f[11]) + Number(f[12]);
    return children ? own + Number(f[13]) + Number(f[14]) : own;
  } catch {
    return 0;
  }
}

export function markCpu(targetPid?: number): Mark {
  return {
    at: Date.now(),
    machineBusy: machineBusy(),
    self: processTicks('self', true),
    target: targetPid ? processTicks(targetPid, false) : 0,
    backends: namedProcessTicks(),
  };
}

/**
 * Between two marks. Read `end` after the generator has exited (so that its time is in the bench's
 * children) and while the target still runs. The target's own children are not ours to count.
 */
export function cpuBetween(start: Mark, end: Mark): CpuUse {
  const seconds = (end.at - start.at) / 1000;
  const cores = os.availableParallelism();
  const per = (ticks: number) => Math.max(0, (ticks * TICK_MS) / 1000 / seconds);
  const target = per(end.target - start.target);
  const generator = per(end.self - start.self);
  const backends = per(end.backends - start.backends);
  const busy = per(end.machineBusy - start.machineBusy);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    cores,
    seconds: r(seconds),
    target: r(target),
    generator: r(generator),
    backends: r(backends),
    other: r(Math.max(0, busy - target - generator - backends)),
    idle: r(Math.max(0, cores - busy)),
  };
}

/**
 * Waits, at most `maxMs`, until other processes use less than `threshold` cores over a one-second window.
 * Returns what they used in the last window.
 */
export async function waitQuiet(maxMs: number, targetPid?: number, threshold = 0.15): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const start = markCpu(targetPid);
    await new Promise((r) => setTimeout(r, 1000));
    const other = cpuBetween(start, markCpu(targetPid)).other;
    if (other < threshold || Date.now() >= deadline) return other;
  }
}
