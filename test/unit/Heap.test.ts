import { Heap } from '../../src/lib/Heap';
import { seeded } from '../../tools/lib/prng';

describe('Heap', () => {
  it('when items are pushed in any order, then they pop smallest first', () => {
    const random = seeded(7);
    const values = Array.from({ length: 500 }, () => Math.floor(random() * 100));
    const heap = new Heap<number>((a, b) => a < b);
    for (const v of values) heap.push(v);
    const out: number[] = [];
    for (let v = heap.pop(); v !== undefined; v = heap.pop()) out.push(v);
    expect(out).toEqual([...values].sort((a, b) => a - b));
    expect(heap.size).toBe(0);
  });

  it('when the top is replaced, then the heap keeps its order (the k largest, kept with the smallest on top)', () => {
    const random = seeded(3);
    const values = Array.from({ length: 1000 }, () => random());
    const best = new Heap<number>((a, b) => a < b);
    for (const v of values) {
      if (best.size < 10) best.push(v);
      else if (v > best.peek()!) best.replaceTop(v);
    }
    const byValue = (a: number, b: number) => a - b;
    expect(best.toArray().sort(byValue)).toEqual([...values].sort(byValue).slice(-10));
  });
});
