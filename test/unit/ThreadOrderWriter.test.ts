// ThreadOrderWriter's lifecycle (start, pause, crash and restart, stop), driven by fake writer threads
// (test/helpers/fakeWriters) instead of the real one: no broker, no database. Restarts go through a
// schedule the test holds: it sees the delay asked for and runs the restart itself, so no test waits
// out a backoff or guesses how long one takes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import pino from 'pino';
import { PurchasePace } from '../../src/lib/PurchasePace';
import type { SettlementListener } from '../../src/queue/OrderQueue';
import type { FromWriter, WriterSettings } from '../../src/queue/orderWriterThread';
import { RestartSchedule, ThreadOrderWriter } from '../../src/queue/ThreadOrderWriter';
import { DEFAULT_HOLD } from '../../src/queue/WriterHold';
import { waitFor } from '../helpers/waitFor';

const fakes = path.join(__dirname, '../helpers/fakeWriters');
const log = pino({ level: 'silent' });
/** The fakes read only logLevel; the rest is there because a real writer needs it. */
const settings: WriterSettings = {
  database: { kind: 'sqlite', path: ':memory:' },
  amqpUrl: 'amqp://127.0.0.1:1',
  queueName: 'unused',
  logLevel: 'silent',
  pace: new PurchasePace().buffer,
  hold: DEFAULT_HOLD,
};

/** A restart schedule in the test's hand: it records each delay asked for and runs restarts on demand. */
function manualSchedule() {
  const asked: { delayMs: number; restart: () => void; state: 'pending' | 'cancelled' | 'run' }[] = [];
  const schedule: RestartSchedule = (restart, delayMs) => {
    const entry = { delayMs, restart, state: 'pending' as 'pending' | 'cancelled' | 'run' };
    asked.push(entry);
    return () => {
      if (entry.state === 'pending') entry.state = 'cancelled';
    };
  };
  return {
    schedule,
    /** Every delay asked for so far, in order. */
    delays: () => asked.map((a) => a.delayMs),
    /** Restarts asked for and neither run nor cancelled. */
    pending: () => asked.filter((a) => a.state === 'pending').length,
    /** Runs the one pending restart, as its timer would. */
    runPending() {
      const due = asked.filter((a) => a.state === 'pending');
      if (due.length !== 1) throw new Error(`expected one pending restart, found ${due.length}`);
      due[0].state = 'run';
      due[0].restart();
    },
  };
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

class RecordingListener implements SettlementListener {
  readonly forgotten: string[] = [];
  readonly failedIds: string[] = [];
  written(id: string): void {
    this.forgotten.push(id);
  }
  failed(id: string): void {
    this.failedIds.push(id);
  }
}

/** A writer running `fake`, with a recording tracker, a journal of what its threads did, a remote and a restart schedule. */
function rig(fake: string, extra: Record<string, unknown> = {}) {
  rigs += 1;
  const journal = path.join(dir, `journal-${rigs}`);
  const channel = `fake-writer-${process.pid}-${rigs}`;
  const remote = new BroadcastChannel(channel);
  const tracker = new RecordingListener();
  const restarts = manualSchedule();
  const writer = new ThreadOrderWriter(
    settings,
    tracker,
    log,
    { filename: path.join(fakes, fake), extra: { journal, control: channel, ...extra } },
    restarts.schedule,
  );
  cleanups.push(async () => {
    await writer.kill();
    remote.postMessage({ quit: true }); // a thread the writer lost track of must not keep jest alive
    remote.close();
  });
  const lines = () => (fs.existsSync(journal) ? fs.readFileSync(journal, 'utf8').split('\n').filter(Boolean) : []);
  return {
    writer,
    tracker,
    restarts,
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
    it('when it exits before saying ready, then start() rejects and no restart is left pending', async () => {
      const { writer, starts, restarts } = rig('silent.js');

      await expect(writer.start()).rejects.toThrow(/exited/);

      expect(restarts.pending()).toBe(0);
      expect(starts()).toBe(1);
      expect(writer.isUp()).toBe(false);
    });

    it('when it says fatal, then start() rejects with its message and no restart is asked for', async () => {
      const { writer, starts, restarts } = rig('fatal.js', { message: 'database unreachable' });

      await expect(writer.start()).rejects.toThrow('order writer: database unreachable');

      expect(restarts.delays()).toEqual([]);
      expect(starts()).toBe(1);
      expect(writer.isUp()).toBe(false);
    });
  });

  describe('a thread that dies after a good start', () => {
    it('when it crashes with a batch in hand, then it is down and not busy, a restart is asked for in 1 s, and running it brings a new thread up', async () => {
      const { writer, starts, post, crash, restarts } = rig('obedient.js');
      await writer.start();
      post({ type: 'busy', busy: true });
      await waitFor('busy', () => writer.busy());

      crash();
      await waitFor('down', () => !writer.isUp());
      expect(writer.busy()).toBe(false);
      expect(restarts.delays()).toEqual([1000]);
      expect(starts()).toBe(1);

      restarts.runPending();
      await waitFor('up again', () => writer.isUp());

      expect(starts()).toBe(2);
    });

    it('when the new thread dies before saying ready, then the next try waits twice as long (2 s) and that one comes up', async () => {
      const { writer, starts, crash, restarts } = rig('obedient.js', { exitBeforeReadyOnRuns: [2] });
      await writer.start();
      crash();
      await waitFor('the first restart asked for', () => restarts.pending() === 1);

      restarts.runPending();
      await waitFor('the second restart asked for', () => restarts.pending() === 1);
      expect(starts()).toBe(2);
      restarts.runPending();
      await waitFor('up again', () => writer.isUp());

      expect(restarts.delays()).toEqual([1000, 2000]);
      expect(starts()).toBe(3);
    });

    it('when the backoff keeps failing, then it doubles up to 30 s and stays there', async () => {
      const { writer, crash, restarts } = rig('obedient.js', { exitBeforeReadyOnRuns: [2, 3, 4, 5, 6, 7] });
      await writer.start();
      crash();

      for (let tries = 1; tries <= 7; tries++) {
        await waitFor(`restart ${tries} asked for`, () => restarts.pending() === 1);
        restarts.runPending();
      }
      await waitFor('up again', () => writer.isUp());

      expect(restarts.delays()).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    });

    it('when a restarted thread has said ready and then crashes, then the wait is back to 1 s', async () => {
      const { writer, crash, restarts } = rig('obedient.js', { exitBeforeReadyOnRuns: [2] });
      await writer.start();
      crash();
      await waitFor('a restart asked for', () => restarts.pending() === 1);
      restarts.runPending();
      await waitFor('another restart asked for', () => restarts.pending() === 1);
      restarts.runPending();
      await waitFor('up again', () => writer.isUp());

      crash();
      await waitFor('a restart asked for after the good start', () => restarts.pending() === 1);

      expect(restarts.delays()).toEqual([1000, 2000, 1000]);
    });

    it('when it dies while paused, then the new thread comes back consuming', async () => {
      const { writer, starts, crash, restarts } = rig('obedient.js');
      await writer.start();
      await writer.pause();

      crash();
      await waitFor('a restart asked for', () => restarts.pending() === 1);
      restarts.runPending();
      await waitFor('up again', () => writer.isUp());

      expect(writer.isUp()).toBe(true);
      expect(starts()).toBe(2);
    });
  });

  describe('stop', () => {
    it('when stopped, then stop() resolves once the thread has finished and no restart is asked for', async () => {
      const { writer, starts, lines, restarts } = rig('obedient.js', { stopDelayMs: 300 });
      await writer.start();

      await writer.stop();

      expect(lines()).toEqual(['start', 'stop', 'stopped']); // 'stopped' is the fake's last word, 300 ms after 'stop'
      expect(writer.isUp()).toBe(false);
      expect(restarts.delays()).toEqual([]);
      expect(starts()).toBe(1);
    });

    it('when stopped during the restart delay, then stop() resolves at once and the restart is cancelled', async () => {
      const { writer, starts, crash, restarts } = rig('obedient.js');
      await writer.start();
      crash();
      await waitFor('a restart asked for', () => restarts.pending() === 1);

      await writer.stop();

      expect(restarts.pending()).toBe(0);
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
    it('when start() is called while a restart is pending, then exactly one new thread is started and the restart is cancelled', async () => {
      const { writer, starts, crash, restarts } = rig('obedient.js');
      await writer.start();
      crash();
      await waitFor('a restart asked for', () => restarts.pending() === 1);

      await writer.start();

      expect(writer.isUp()).toBe(true);
      expect(restarts.pending()).toBe(0);
      expect(starts()).toBe(2);
    });
  });
});
