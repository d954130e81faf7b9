// ThreadOrderWriter's lifecycle (start, pause, crash and restart, stop), driven by fake writer threads
// (test/helpers/fakeWriters) instead of the real one: no broker, no database. The restart delays are
// the real ones (1 s, then 2 s), so the restart tests take a few seconds each.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import pino from 'pino';
import type { FromWriter, WriterSettings } from '../../src/queue/orderWriterThread';
import { ThreadOrderWriter } from '../../src/queue/ThreadOrderWriter';

jest.setTimeout(10_000);

const fakes = path.join(__dirname, '../helpers/fakeWriters');
const log = pino({ level: 'silent' });
const settings = { logLevel: 'silent' } as unknown as WriterSettings;
/** Long enough for a restart due after 1 s to have happened, had it been scheduled. */
const PAST_FIRST_RESTART_MS = 1500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(5);
  }
  return Date.now();
}

let dir: string;
let rigs = 0;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thread-writer-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A writer running `fake`, with a recording tracker, a journal of what its threads did, and a remote. */
function rig(fake: string, extra: Record<string, unknown> = {}) {
  rigs += 1;
  const journal = path.join(dir, `journal-${rigs}`);
  const channel = `fake-writer-${process.pid}-${rigs}`;
  const remote = new BroadcastChannel(channel);
  const tracker = {
    forgotten: [] as string[],
    failedIds: [] as string[],
    written(id: string) {
      this.forgotten.push(id);
    },
    failed(id: string) {
      this.failedIds.push(id);
    },
  };
  const writer = new ThreadOrderWriter(settings, tracker, log, {
    filename: path.join(fakes, fake),
    extra: { journal, control: channel, ...extra },
  });
  cleanups.push(async () => {
    await writer.kill();
    remote.postMessage({ quit: true }); // a thread the writer lost track of must not keep jest alive
    remote.close();
  });
  const lines = () => (fs.existsSync(journal) ? fs.readFileSync(journal, 'utf8').split('\n').filter(Boolean) : []);
  return {
    writer,
    tracker,
    /** How many threads have been started so far. */
    starts: () => lines().filter((w) => w === 'start').length,
    lines,
    /** Makes the current thread post this message to the main thread. */
    post: (m: FromWriter) => remote.postMessage({ post: m }),
    /** Makes the current thread die of an uncaught error. */
    crash: () => remote.postMessage({ crash: 'boom' }),
  };
}

describe('ThreadOrderWriter', () => {
  describe('a thread that speaks the protocol', () => {
    it('when the thread says ready, then start() resolves and the writer is up', async () => {
      const { writer, starts } = rig('obedient.js');
      expect(writer.isUp()).toBe(false);

      await writer.start();

      expect(writer.isUp()).toBe(true);
      expect(writer.busy()).toBe(false);
      expect(starts()).toBe(1);
    });

    it('when the thread says busy and then not, then busy() follows', async () => {
      const { writer, post } = rig('obedient.js');
      await writer.start();

      post({ type: 'busy', busy: true });
      await waitFor('busy', () => writer.busy());
      post({ type: 'busy', busy: false });
      await waitFor('not busy', () => !writer.busy());

      expect(writer.busy()).toBe(false);
    });

    it('when the thread reports a settled batch, then the tracker forgets the written and fails the failed', async () => {
      const { writer, tracker, post } = rig('obedient.js');
      await writer.start();

      post({ type: 'settled', written: ['r1', 'r2'], failed: ['r3'] });
      await waitFor('the tracker told', () => tracker.forgotten.length + tracker.failedIds.length === 3);

      expect(tracker.forgotten).toEqual(['r1', 'r2']);
      expect(tracker.failedIds).toEqual(['r3']);
    });

    it('when paused and started again, then it is down in between and the same thread resumes', async () => {
      const { writer, starts, lines } = rig('obedient.js');
      await writer.start();

      await writer.pause();
      expect(writer.isUp()).toBe(false);
      await writer.start();

      expect(writer.isUp()).toBe(true);
      expect(starts()).toBe(1);
      expect(lines()).toEqual(['start', 'pause', 'resume']);
    });
  });

  describe('a thread that cannot start', () => {
    it('when it exits before saying ready, then start() rejects and no thread is started again', async () => {
      const { writer, starts } = rig('silent.js');

      await expect(writer.start()).rejects.toThrow(/exited/);
      await sleep(PAST_FIRST_RESTART_MS);

      expect(starts()).toBe(1);
      expect(writer.isUp()).toBe(false);
    });

    it('when it says fatal, then start() rejects with its message and no thread is started again', async () => {
      const { writer, starts } = rig('fatal.js', { message: 'database unreachable' });

      await expect(writer.start()).rejects.toThrow('order writer: database unreachable');
      await sleep(PAST_FIRST_RESTART_MS);

      expect(starts()).toBe(1);
      expect(writer.isUp()).toBe(false);
    });
  });

  describe('a thread that dies after a good start', () => {
    it('when it crashes with a batch in hand, then it is down and not busy, and a new thread is up about 1 s later', async () => {
      const { writer, starts, post, crash } = rig('obedient.js');
      await writer.start();
      post({ type: 'busy', busy: true });
      await waitFor('busy', () => writer.busy());

      crash();
      const died = await waitFor('down', () => !writer.isUp());
      expect(writer.busy()).toBe(false);
      await sleep(500);
      expect(starts()).toBe(1);
      expect(writer.isUp()).toBe(false);
      const restarted = await waitFor('a second thread', () => starts() === 2);
      await waitFor('up again', () => writer.isUp());

      expect(restarted - died).toBeGreaterThanOrEqual(950);
      expect(restarted - died).toBeLessThan(1800);
    });

    it('when the new thread dies before saying ready, then the next try waits longer (2 s) and that one comes up', async () => {
      const { writer, starts, crash } = rig('obedient.js', { exitBeforeReadyOnRuns: [2] });
      await writer.start();

      crash();
      const died = await waitFor('down', () => !writer.isUp());
      const second = await waitFor('a second thread', () => starts() === 2);
      const third = await waitFor('a third thread', () => starts() === 3);
      await waitFor('up again', () => writer.isUp());

      expect(second - died).toBeGreaterThanOrEqual(950);
      expect(second - died).toBeLessThan(1800);
      expect(third - second).toBeGreaterThanOrEqual(1950);
      expect(third - second).toBeLessThan(2800);
    });

    it('when a restarted thread has said ready and then crashes, then the wait is back to about 1 s', async () => {
      const { writer, starts, crash } = rig('obedient.js');
      await writer.start();
      crash();
      await waitFor('a second thread', () => starts() === 2);
      await waitFor('up again', () => writer.isUp());

      crash();
      const died = await waitFor('down', () => !writer.isUp());
      const restarted = await waitFor('a third thread', () => starts() === 3);
      await waitFor('up again', () => writer.isUp());

      expect(restarted - died).toBeGreaterThanOrEqual(950);
      expect(restarted - died).toBeLessThan(1800);
    });

    it('when it dies while paused, then the new thread comes back consuming', async () => {
      const { writer, starts, crash } = rig('obedient.js');
      await writer.start();
      await writer.pause();

      crash();
      await waitFor('a second thread', () => starts() === 2);
      await waitFor('up again', () => writer.isUp());

      expect(writer.isUp()).toBe(true);
    });
  });

  describe('stop', () => {
    it('when stopped, then stop() resolves once the thread has finished and no thread is started again', async () => {
      const { writer, starts, lines } = rig('obedient.js', { stopDelayMs: 300 });
      await writer.start();

      const asked = Date.now();
      await writer.stop();

      expect(Date.now() - asked).toBeGreaterThanOrEqual(290);
      expect(lines()).toEqual(['start', 'stop', 'stopped']);
      expect(writer.isUp()).toBe(false);
      await sleep(PAST_FIRST_RESTART_MS);
      expect(starts()).toBe(1);
    });

    it('when stopped during the restart delay, then stop() resolves at once and no thread is started again', async () => {
      const { writer, starts, crash } = rig('obedient.js');
      await writer.start();
      crash();
      const died = await waitFor('down', () => !writer.isUp());
      await sleep(300);

      await writer.stop();
      await sleep(died + PAST_FIRST_RESTART_MS - Date.now());

      expect(starts()).toBe(1);
      expect(writer.isUp()).toBe(false);
    });

    it('when started again after a stop, then a new thread comes up', async () => {
      const { writer, starts } = rig('obedient.js');
      await writer.start();
      await writer.stop();

      await writer.start();

      expect(writer.isUp()).toBe(true);
      expect(starts()).toBe(2);
    });
  });

  describe('start during the restart delay', () => {
    it('when start() is called while a restart is pending, then exactly one new thread is started', async () => {
      const { writer, starts, crash } = rig('obedient.js');
      await writer.start();
      crash();
      const died = await waitFor('down', () => !writer.isUp());
      await sleep(300);

      await writer.start();
      expect(writer.isUp()).toBe(true);
      await sleep(died + PAST_FIRST_RESTART_MS - Date.now());

      expect(starts()).toBe(2);
      expect(writer.isUp()).toBe(true);
    });
  });
});
