// Captcha images rendered ahead of time, so that handing one out at the opening costs the request thread
// next to nothing: a pool of ready images, kept topped up by a renderer (worker threads in the shop).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

/** One captcha ready to hand out: its answer and its image as a data URL. */
export interface ReadyCaptcha {
  text: string;
  image: string;
}

/** Makes captchas off the request path; `render(n)` resolves with n of them. */
export interface CaptchaRenderer {
  render(n: number): Promise<ReadyCaptcha[]>;
  close(): Promise<void>;
}

/** Draws one captcha: its text and its PNG. */
export interface CaptchaGenerator {
  create(): { text: string; png: Buffer };
}

export function readyCaptcha(text: string, png: Buffer): ReadyCaptcha {
  return { text, image: `data:image/png;base64,${png.toString('base64')}` };
}

/** Renders in the calling thread: for tests with a generator whose answer they know. */
export class InlineCaptchaRenderer implements CaptchaRenderer {
  constructor(private readonly generator: CaptchaGenerator) {}

  async render(n: number): Promise<ReadyCaptcha[]> {
    return Array.from({ length: n }, () => {
      const { text, png } = this.generator.create();
      return readyCaptcha(text, png);
    });
  }

  async close(): Promise<void> {}
}

/**
 * Serves captchas from a JSON-lines file of `{"text","png"}` (png in base64), cycling through it: how a load
 * test knows the answers without any route that would tell them. Never in production (loadConfig refuses it).
 */
export class FileCaptchaRenderer implements CaptchaRenderer {
  private readonly items: ReadyCaptcha[];
  private next = 0;

  constructor(file: string) {
    this.items = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const { text, png } = JSON.parse(line) as { text: string; png: string };
        return { text, image: `data:image/png;base64,${png}` };
      });
    if (this.items.length === 0) throw new Error(`CAPTCHA_POOL_FILE ${file} holds no captcha`);
  }

  async render(n: number): Promise<ReadyCaptcha[]> {
    const out: ReadyCaptcha[] = [];
    for (let i = 0; i < n; i++) {
      out.push(this.items[this.next]);
      this.next = (this.next + 1) % this.items.length;
    }
    return out;
  }

  async close(): Promise<void> {}
}

/** The worker thread's entry (tests run it from TypeScript through a loader). */
export interface RenderScript {
  filename: string;
  extra?: Record<string, unknown>;
}

export const defaultRenderScript: RenderScript = { filename: path.join(__dirname, '..', 'lib', 'captchaRenderThread.js') };

/** Renders in worker threads, each asked in turn; a thread that dies is replaced at the next request. */
export class ThreadCaptchaRenderer implements CaptchaRenderer {
  private readonly workers: (Worker | null)[];
  private turn = 0;
  private seq = 0;
  private readonly waiting = new Map<number, { worker: Worker; resolve: (r: ReadyCaptcha[]) => void; reject: (err: Error) => void }>();

  constructor(
    threads: number,
    private readonly log: Logger,
    private readonly script: RenderScript = defaultRenderScript,
  ) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => null);
  }

  render(n: number): Promise<ReadyCaptcha[]> {
    const i = this.turn;
    this.turn = (this.turn + 1) % this.workers.length;
    const worker = this.workers[i] ?? this.spawn(i);
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { worker, resolve, reject });
      worker.postMessage({ id, n });
    });
  }

  async close(): Promise<void> {
    const all = this.workers.filter((w): w is Worker => w !== null);
    this.workers.fill(null);
    await Promise.all(all.map((w) => w.terminate()));
    for (const w of this.waiting.values()) w.reject(new Error('captcha renderer closed'));
    this.waiting.clear();
  }

  private spawn(i: number): Worker {
    const worker = new Worker(this.script.filename, { workerData: { ...this.script.extra } });
    worker.unref();
    worker.on('message', (m: { id: number; captchas?: ReadyCaptcha[]; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.captchas) w.resolve(m.captchas);
      else w.reject(new Error(m.error ?? 'captcha render failed'));
    });
    worker.on('error', (err) => this.log.error({ err }, 'captcha render thread failed'));
    worker.on('exit', (code) => {
      if (this.workers[i] === worker) this.workers[i] = null;
      // Whatever it was drawing will never come: its requests fail, and the pool asks again later.
      for (const [id, w] of this.waiting) {
        if (w.worker !== worker) continue;
        this.waiting.delete(id);
        w.reject(new Error(`captcha render thread exited (code ${code})`));
      }
    });
    this.workers[i] = worker;
    return worker;
  }
}

/**
 * Ready captchas, topped up in the background to `size` (its memory bound). `take()` is a pop from an array:
 * constant time, no rendering, whatever the crowd.
 */
export class CaptchaPool {
  private readonly ready: ReadyCaptcha[] = [];
  private filling: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly renderer: CaptchaRenderer,
    readonly size: number,
    private readonly log: Logger,
    private readonly batch = 64,
  ) {}

  /** Starts filling; resolves once the pool is full (or filling stopped on an error, logged). */
  fill(): Promise<void> {
    this.closed = false;
    return this.topUp();
  }

  /** A ready captcha, or undefined when the pool is empty (the caller answers "busy, retry"). */
  take(): ReadyCaptcha | undefined {
    const c = this.ready.pop();
    if (this.filling === null && !this.closed) void this.topUp();
    return c;
  }

  available(): number {
    return this.ready.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    // The renderer first: it fails what it was asked for, so a top-up in progress ends at once.
    await this.renderer.close();
    await this.filling;
  }

  private topUp(): Promise<void> {
    if (this.filling) return this.filling;
    if (this.closed || this.ready.length >= this.size) return Promise.resolve();
    const run = (async () => {
      try {
        while (!this.closed && this.ready.length < this.size) {
          const got = await this.renderer.render(Math.min(this.batch, this.size - this.ready.length));
          for (const c of got) if (this.ready.length < this.size) this.ready.push(c);
        }
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'captcha rendering failed; the pool tops up again at the next captcha taken');
      }
    })();
    // Set after the run has started, and cleared by the run itself, so a full pool never leaves a stale one.
    this.filling = run;
    void run.then(() => {
      if (this.filling === run) this.filling = null;
    });
    return run;
  }
}
