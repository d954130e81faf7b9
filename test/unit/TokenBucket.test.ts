// TokenBucket on a clock the test moves by hand.
import { TokenBucket } from '../../src/lib/TokenBucket';

function bucket(perSecond: number, capacity: number) {
  let now = 5_000;
  const b = new TokenBucket(perSecond, capacity, () => now);
  return {
    b,
    advance: (ms: number) => {
      now += ms;
    },
    /** How many takes succeed in a row, right now. */
    drain: () => {
      let n = 0;
      while (b.tryTake()) n++;
      return n;
    },
  };
}

describe('TokenBucket', () => {
  it('when new, then it lets a full burst of `capacity` through and refuses the next', () => {
    const { drain, b } = bucket(10, 3);

    expect(drain()).toBe(3);
    expect(b.tryTake()).toBe(false);
  });

  it('when empty and a tenth of a second passes at 10 a second, then exactly one more is let through', () => {
    const { drain, advance } = bucket(10, 3);
    drain();

    advance(100);

    expect(drain()).toBe(1);
  });

  it('when empty and less than one token has refilled, then it refuses, and the fraction is kept for later', () => {
    const { drain, advance, b } = bucket(10, 3);
    drain();

    advance(60);
    expect(b.tryTake()).toBe(false);
    advance(40);

    expect(b.tryTake()).toBe(true);
  });

  it('when idle for a long time, then it refills only up to its capacity', () => {
    const { drain, advance } = bucket(10, 3);
    drain();

    advance(60_000);

    expect(drain()).toBe(3);
  });

  it('when takes are spread at its rate, then every one goes through', () => {
    const { drain, advance, b } = bucket(100, 1);
    drain();

    const results: boolean[] = [];
    for (let i = 0; i < 50; i++) {
      advance(10);
      results.push(b.tryTake());
    }

    expect(results.every(Boolean)).toBe(true);
  });

  it('when refused takes are made, then they cost nothing', () => {
    const { drain, advance, b } = bucket(10, 1);
    drain();

    for (let i = 0; i < 5; i++) {
      advance(10);
      b.tryTake(); // refused: 0.1 token each time
    }
    advance(50);

    expect(b.tryTake()).toBe(true);
  });
});
