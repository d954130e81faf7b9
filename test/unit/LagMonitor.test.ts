// LagMonitor on a clock and a timer the test drives: each tick is a timer firing, late or on time.
import { LagMonitor, Repeat } from '../../src/lib/LagMonitor';

const EVERY_MS = 20;
const THRESHOLD_MS = 50;

function rig() {
  let now = 10_000;
  let tick: (() => void) | null = null;
  let askedEveryMs: number | null = null;
  let stopped = 0;
  let timers = 0;
  const repeat: Repeat = (t, ms) => {
    timers += 1;
    tick = t;
    askedEveryMs = ms;
    return () => {
      tick = null;
      stopped += 1;
    };
  };
  const monitor = new LagMonitor(THRESHOLD_MS, EVERY_MS, () => now, repeat);
  return {
    monitor,
    askedEveryMs: () => askedEveryMs,
    ticking: () => tick !== null,
    stopped: () => stopped,
    /** Timers asked for so far. */
    timers: () => timers,
    /** The timer fires `lateMs` after it was due. */
    fire(lateMs = 0) {
      if (!tick) throw new Error('not ticking');
      now += EVERY_MS + lateMs;
      tick();
    },
  };
}

describe('LagMonitor', () => {
  it('when the timer fires on time, then the lag is 0 and nothing is overloaded', () => {
    const r = rig();
    r.monitor.start();

    for (let i = 0; i < 10; i++) r.fire(0);

    expect(r.askedEveryMs()).toBe(EVERY_MS);
    expect(r.monitor.lag()).toBe(0);
    expect(r.monitor.overloaded()).toBe(false);
  });

  it('when one tick comes late by more than the threshold, then the lag rises to that drift at once and the monitor is overloaded', () => {
    const r = rig();
    r.monitor.start();
    r.fire(0);

    r.fire(120);

    expect(r.monitor.lag()).toBe(120);
    expect(r.monitor.overloaded()).toBe(true);
  });

  it('when the drift is exactly the threshold, then it is not yet overloaded', () => {
    const r = rig();
    r.monitor.start();

    r.fire(THRESHOLD_MS);

    expect(r.monitor.lag()).toBe(THRESHOLD_MS);
    expect(r.monitor.overloaded()).toBe(false);
  });

  it('when the loop recovers, then the lag falls smoothly (to 70% a quiet tick), not at once', () => {
    const r = rig();
    r.monitor.start();
    r.fire(100);

    r.fire(0);
    const afterOne = r.monitor.lag();
    r.fire(0);
    const afterTwo = r.monitor.lag();
    r.fire(0);

    expect(afterOne).toBeCloseTo(70);
    expect(afterTwo).toBeCloseTo(49);
    expect(r.monitor.overloaded()).toBe(false);
    expect(r.monitor.lag()).toBeCloseTo(34.3);
  });

  it('when a later tick is late but less than the lag, then it pulls the lag toward itself rather than replacing it', () => {
    const r = rig();
    r.monitor.start();
    r.fire(100);

    r.fire(60);

    expect(r.monitor.lag()).toBeCloseTo(100 * 0.7 + 60 * 0.3);
  });

  it('when started twice, then only one timer runs; when stopped, then it stops and can start again', () => {
    const r = rig();
    r.monitor.start();
    r.monitor.start();
    expect(r.timers()).toBe(1);

    r.monitor.stop();
    expect(r.ticking()).toBe(false);
    expect(r.stopped()).toBe(1);
    r.monitor.stop();
    expect(r.stopped()).toBe(1);

    r.monitor.start();
    expect(r.ticking()).toBe(true);
    expect(r.timers()).toBe(2);
  });

  it('when the overload guard is handed out alone, then it still reads this monitor', () => {
    const r = rig();
    const { overloaded } = r.monitor;
    r.monitor.start();

    r.fire(200);

    expect(overloaded()).toBe(true);
  });
});
