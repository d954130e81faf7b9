// FixedWindowCounter with the time of each hit given by the test.
import { FixedWindowCounter } from '../../src/lib/FixedWindowCounter';

const START = 1_000_000;

describe('FixedWindowCounter', () => {
  it('when a key hits up to its limit in one window, then every hit is allowed, and the next is not', () => {
    const c = new FixedWindowCounter(3, 1000, START);

    const allowed = [c.hit('a', START), c.hit('a', START + 10), c.hit('a', START + 20)];
    const over = c.hit('a', START + 30);

    expect(allowed).toEqual([true, true, true]);
    expect(over).toBe(false);
  });

  it('when one key is over its limit, then other keys are counted apart', () => {
    const c = new FixedWindowCounter(1, 1000, START);
    c.hit('a', START);
    c.hit('a', START);

    expect(c.hit('b', START)).toBe(true);
    expect(c.hit('a', START)).toBe(false);
  });

  it('when the window has passed, then the counts start again', () => {
    const c = new FixedWindowCounter(1, 1000, START);
    c.hit('a', START);
    expect(c.hit('a', START + 999)).toBe(false);

    expect(c.hit('a', START + 1000)).toBe(true);
    expect(c.hit('a', START + 1001)).toBe(false);
  });

  it('when a window resets, then it starts at that hit, not on a fixed grid from the first', () => {
    const c = new FixedWindowCounter(1, 1000, START);
    c.hit('a', START + 1500); // opens a window at START + 1500

    expect(c.hit('a', START + 2400)).toBe(false); // still that window
    expect(c.hit('a', START + 2500)).toBe(true);
  });

  it('when asked how long is left, then it answers whole seconds rounded up, and never less than 1', () => {
    const c = new FixedWindowCounter(1, 10_000, START);

    expect(c.secondsLeft(START)).toBe(10);
    expect(c.secondsLeft(START + 8_200)).toBe(2);
    expect(c.secondsLeft(START + 9_999)).toBe(1);
    expect(c.secondsLeft(START + 20_000)).toBe(1);
  });
});
