// Child processes of the operator tools (the app and its instances, the balancer, the baseline server, wrk):
// spawned with a log file, bounded in time, and killed when the tool exits for any reason.
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';

const children = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // A tool that handles the signal itself (a graceful stop) has its own listener: leave it to that one.
      if (process.listenerCount(signal) > 1) return;
      process.stderr.write(`\n${signal}: stopping child processes\n`);
      process.exit(130);
    });
  }
}

export interface Child {
  proc: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** Everything the process wrote to stdout, so far. */
  stdout(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<number | string>;
}

export function startChild(command: string, args: string[], options: SpawnOptions & { logFile: string }): Child {
  hookExit();
  const { logFile, ...spawnOptions } = options;
  const proc = spawn(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  const log = createWriteStream(logFile);
  let out = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    log.write(chunk);
  });
  proc.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | string>((resolve) => {
    proc.on('error', (err) => {
      log.write(`spawn error: ${err.message}\n`);
      children.delete(proc);
      resolve('spawn-error');
    });
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  // Close the log file only after both pipes have ended, so nothing the child wrote last is lost.
  proc.on('close', () => log.end());
  return {
    proc,
    exited,
    stdout: () => out,
    stop: async (graceMs = 15_000) => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

/** A free TCP port on the loopback interface (released at once; taken again by the child). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true, the child dies, or the deadline passes. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  child?.exited.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what}: the process exited first`);
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}
