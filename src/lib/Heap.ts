// A binary heap: the item that comes first (by `first`) is always on top. Small and allocation-free on use;
// the draw keeps its best entries in one, the fairness simulation its timed events.
export class Heap<T> {
  private readonly items: T[] = [];

  /** `first(a, b)`: a belongs above b. */
  constructor(private readonly first: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const h = this.items;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.first(h[i], h[p])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  pop(): T | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.siftDown();
    }
    return top;
  }

  /** Puts `item` in the top's place (the top is dropped): one sift instead of a pop and a push. */
  replaceTop(item: T): void {
    this.items[0] = item;
    this.siftDown();
  }

  /** The items, in no particular order. */
  toArray(): T[] {
    return [...this.items];
  }

  private siftDown(): void {
    const h = this.items;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.first(h[l], h[m])) m = l;
      if (r < h.length && this.first(h[r], h[m])) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
}
