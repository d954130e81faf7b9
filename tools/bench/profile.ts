// Summarises a V8 .cpuprofile (from `node --cpu-prof`): where the samples went, by function, self and total.
// `node dist/tools/bench/profile.js <file.cpuprofile> [top] [fromMs:toMs] [last]` (window from the first
// purchase, or with `last` from the first purchase of the last burst: the measured sale after a warm-up)
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  functions: FunctionCost[];
}

function where(frame: CallFrame): string {
  if (!frame.url) return '';
  const url = frame.url.replace(/^file:\/\//, '');
  const inApp = url.match(/\/dist\/(src\/.*|ormconfig\.js|migrations\/.*)$/);
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/);
  const file = inApp ? inApp[1] : nm ? `${nm[1]}:${nm[2]}` : url.startsWith('node:') ? url : path.basename(url);
  return `${file}:${frame.lineNumber + 1}`;
}

/**
 * Only samples taken between `fromMs` and `toMs` after the first sample inside `anchor` (by default the
 * purchase route), so that one phase of a run (the contested seconds, or after sold out) can be read alone.
 */
export interface SampleWindow {
  anchor?: string;
  fromMs: number;
  toMs: number;
  /**
   * Anchor on the last burst instead: the first sample inside `anchor` after a second or more without one
   * (with --warmup, the measured sale comes after the warm-up's).
   */
  lastBurst?: boolean;
}

export function summarise(profile: CpuProfile, window?: SampleWindow): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const at: number[] = [];
  let clock = 0;
  for (const d of profile.timeDeltas) at.push((clock += d));
  let from = -Infinity;
  let to = Infinity;
  if (window) {
    const anchor = window.anchor ?? 'tryHandle';
    const inAnchor = (id: number): boolean => {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) if (byId.get(cur)!.callFrame.functionName === anchor) return true;
      return false;
    };
    let first = -1;
    let previous = -Infinity;
    for (let i = 0; i < profile.samples.length; i += 1) {
      if (!inAnchor(profile.samples[i])) continue;
      if (first < 0 || (window.lastBurst && at[i] - previous >= 1_000_000)) first = i;
      previous = at[i];
    }
    if (first < 0) throw new Error(`no sample inside ${anchor}`);
    from = at[first] + window.fromMs * 1000;
    to = at[first] + window.toMs * 1000;
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i += 1) {
    if (at[i] < from || at[i] > to) continue;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${where(n.callFrame)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  let all = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    all += us;
    if (node.callFrame.functionName === '(idle)') idle += us;
    if (node.callFrame.functionName === '(garbage collector)') gc += us;
    self.set(key(node), (self.get(key(node)) ?? 0) + us);
    // Count each function once per stack, however deep its recursion.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const functions = [...total.keys()].map((k) => {
    const [name, at] = k.split('\u0000');
    return { name, where: at, selfMs: (self.get(k) ?? 0) / 1000, totalMs: (total.get(k) ?? 0) / 1000 };
  });
  return { totalMs: all / 1000, idleMs: idle / 1000, gcMs: gc / 1000, functions };
}

export function formatSummary(s: ProfileSummary, top = 25): string {
  const busy = s.totalMs - s.idleMs;
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
  const row = (f: FunctionCost, ms: number) => `  ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`;
  const lines = [
    `profile: ${s.totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy (${((100 * busy) / s.totalMs).toFixed(0)}%), GC ${s.gcMs.toFixed(0)} ms; percentages of busy time`,
    'self time (where the CPU actually was):',
  ];
  const skip = new Set(['(idle)', '(root)']);
  for (const f of [...s.functions].filter((f) => !skip.has(f.name)).sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) lines.push(row(f, f.selfMs));
  lines.push('total time, app code only (the function and everything it called):');
  for (const f of [...s.functions].filter((f) => f.where.startsWith('src/')).sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) lines.push(row(f, f.totalMs));
  return lines.join('\n');
}

export function summariseFile(file: string, window?: SampleWindow): ProfileSummary {
  return summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, window);
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/tools/bench/profile.js <file.cpuprofile> [top] [fromMs:toMs] [last]\n');
    process.exit(2);
  }
  const [fromMs, toMs] = (process.argv[4] ?? '').split(':').map(Number);
  const window = process.argv[4] ? { fromMs, toMs, lastBurst: process.argv[5] === 'last' } : undefined;
  process.stdout.write(`${formatSummary(summariseFile(file, window), Number(process.argv[3] ?? 25))}\n`);
}
