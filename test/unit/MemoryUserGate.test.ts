// MemoryUserGate: one attempt per interval and one request in flight per shopper, times given by the test.
import { MemoryUserGate } from '../../src/services/UserGate';

const T0 = 1_700_000_000_000;
const INTERVAL_MS = 10_000;

describe('MemoryUserGate', () => {
  it('when a shopper enters for the first time, then it is let through', () => {
    const gate = new MemoryUserGate(INTERVAL_MS);

    expect(gate.enter(1, T0)).toEqual({ ok: true });
  });

  it('when a shopper comes again while the first request is in flight, then it is refused as in flight, retry in 1 s', () => {
    const gate = new MemoryUserGate(INTERVAL_MS);
    gate.enter(1, T0);

    expect(gate.enter(1, T0 + INTERVAL_MS * 5)).toEqual({ ok: false, reason: 'in_flight', retryAfterMs: 1000 });
  });

  it('when a shopper comes again within the interval after leaving, then it is refused as too fast, with the time left', () => {
    const gate = new MemoryUserGate(INTERVAL_MS);
    gate.enter(1, T0);
    gate.leave(1);

    expect(gate.enter(1, T0 + 2_500)).toEqual({ ok: false, reason: 'too_fast', retryAfterMs: 7_500 });
  });

  it('when a refused attempt is made, then it does not move the interval on', () => {
    const gate = new MemoryUserGate(INTERVAL_MS);
    gate.enter(1, T0);
    gate.leave(1);
    gate.enter(1, T0 + 9_000); // refused

    expect(gate.enter(1, T0 + INTERVAL_MS)).toEqual({ ok: true });
  });

  it('when the interval has passed since the last attempt let through, then the shopper is let through again', () => {
    const gate = new MemoryUserGate(INTERVAL_MS);
    gate.enter(1, T0);
    gate.leave(1);

    expect(gate.enter(1, T0 + INTERVAL_MS - 1).ok).toBe(false);
    expect(gate.enter(1, T0 + INTERVAL_MS)).toEqual({ ok: true });
  });

  it('when one shopper is in flight or too fast, then another is not held up', () => {
    const gate = new MemoryUserGate(INTERVAL_MS);
    gate.enter(1, T0);

    expect(gate.enter(2, T0)).toEqual({ ok: true });
  });

  it('when an entry sweeps old attempts away, then their shoppers are let through and the attempt just made stays in force', () => {
    const gate = new MemoryUserGate(INTERVAL_MS);
    gate.enter(1, T0);
    gate.leave(1);
    gate.enter(2, T0 + 3 * INTERVAL_MS); // sweeps shopper 1's attempt
    gate.leave(2);

    expect(gate.enter(1, T0 + 3 * INTERVAL_MS)).toEqual({ ok: true });
    expect(gate.enter(2, T0 + 3 * INTERVAL_MS + 1).ok).toBe(false); // not swept: its own attempt is recent
  });
});
