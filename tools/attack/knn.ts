// k-nearest-neighbour classification on fixed-length vectors (squared Euclidean distance).
export class Knn {
  private data: Float32Array;
  private labels: string[] = [];
  private n = 0;

  constructor(readonly dim: number) {
    this.data = new Float32Array(dim * 1024);
  }

  get size(): number {
    return this.n;
  }

  add(v: Float32Array, label: string): void {
    if ((this.n + 1) * this.dim > this.data.length) {
      const grown = new Float32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set(v, this.n * this.dim);
    this.labels.push(label);
    this.n++;
  }

  /** The majority label among the k nearest (ties go to the nearer). */
  classify(v: Float32Array, k = 1): string {
    const best: { d: number; label: string }[] = [];
    const { data, dim } = this;
    for (let j = 0; j < this.n; j++) {
      let d = 0;
      const o = j * dim;
      const limit = best.length === k ? best[k - 1].d : Infinity;
      for (let i = 0; i < dim && d < limit; i++) {
        const e = data[o + i] - v[i];
        d += e * e;
      }
      if (d >= limit) continue;
      let p = best.length < k ? best.length : k - 1;
      best[p] = { d, label: this.labels[j] };
      while (p > 0 && best[p - 1].d > best[p].d) {
        [best[p - 1], best[p]] = [best[p], best[p - 1]];
        p--;
      }
    }
    const votes = new Map<string, number>();
    for (const b of best) votes.set(b.label, (votes.get(b.label) ?? 0) + 1);
    let top = best[0]?.label ?? '';
    for (const b of best) if ((votes.get(b.label) ?? 0) > (votes.get(top) ?? 0)) top = b.label;
    return top;
  }
}
