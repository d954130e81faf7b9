// One shop process (dist/src/server.js) started by a tool on a loopback port, and the wait for its /healthz.
import path from 'node:path';
import { Child, startChild, waitFor } from './processes';

export interface Health {
  status: number;
  ok?: boolean;
  sales?: string;
  [key: string]: unknown;
}

export interface AppProcess {
  child: Child;
  port: number;
  url: string;
}

export interface AppProcessOptions {
  /** The package root, holding dist/src/server.js. */
  root: string;
  port: number;
  /** The whole environment of the process (nothing is inherited); HOST and PORT are set here. */
  env: NodeJS.ProcessEnv;
  logFile: string;
  nodeArgs?: string[];
}

export function spawnApp(o: AppProcessOptions): AppProcess {
  const child = startChild(process.execPath, [...(o.nodeArgs ?? []), path.join(o.root, 'dist', 'src', 'server.js')], {
    logFile: o.logFile,
    env: { ...o.env, HOST: '127.0.0.1', PORT: String(o.port) },
    cwd: o.root,
  });
  return { child, port: o.port, url: `http://127.0.0.1:${o.port}` };
}

/** GET /healthz with its status; null when the app does not answer. `T`: the fields a caller reads. */
export async function health<T extends object = Health>(url: string, timeoutMs = 3000): Promise<(T & { status: number }) | null> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    return { ...((await res.json()) as T), status: res.status };
  } catch {
    return null;
  }
}

/** By default: answering 200 with the sales open. */
export const salesOpen = (h: Health) => h.status === 200 && h.sales === 'open';

/** Waits until /healthz satisfies `ready`; fails early when the process exits first. */
export async function waitHealthy(app: AppProcess, what: string, timeoutMs = 60_000, ready: (h: Health) => boolean = salesOpen): Promise<void> {
  await waitFor(what, async () => {
    const h = await health(app.url);
    return !!h && ready(h);
  }, timeoutMs, app.child);
}
