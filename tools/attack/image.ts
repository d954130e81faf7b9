// Image operations the attacks share: ink maps, thresholds, morphology, connected components, resampling.
import { decodePng, toGray } from './png';

export interface Ink {
  width: number;
  height: number;
  /** 0 = paper .. 1 = full ink, whatever the image's colours. */
  v: Float32Array;
}

/** Decodes the PNG and maps it to ink darkness, taking the commonest (paper) and darkest tones as the ends. */
export function inkOf(png: Buffer): Ink {
  const img = decodePng(png);
  const g = toGray(img);
  const hist = new Uint32Array(256);
  for (const x of g) hist[x]++;
  let paper = 0;
  for (let i = 1; i < 256; i++) if (hist[i] > hist[paper]) paper = i;
  let dark = 255;
  for (let i = 0; i < 256; i++) if (hist[i] > 0) { dark = i; break; }
  const span = Math.max(1, paper - dark);
  const v = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) v[i] = Math.min(1, Math.max(0, (paper - g[i]) / span));
  return { width: img.width, height: img.height, v };
}

export interface Binary {
  width: number;
  height: number;
  b: Uint8Array;
}

export function binarise(ink: Ink, threshold = 0.5): Binary {
  const b = new Uint8Array(ink.v.length);
  for (let i = 0; i < b.length; i++) b[i] = ink.v[i] >= threshold ? 1 : 0;
  return { width: ink.width, height: ink.height, b };
}

/** Erosion then dilation with a (2r+1)-square: removes strokes thinner than the square. */
export function open(img: Binary, r: number): Binary {
  return morph(morph(img, r, true), r, false);
}

export function morph(img: Binary, r: number, erode: boolean): Binary {
  const { width: w, height: h, b } = img;
  const out = new Uint8Array(b.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let hit = erode ? 1 : 0;
      for (let dy = -r; dy <= r && hit === (erode ? 1 : 0); dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          const v = xx < 0 || yy < 0 || xx >= w || yy >= h ? 0 : b[yy * w + xx];
          if (erode && !v) { hit = 0; break; }
          if (!erode && v) { hit = 1; break; }
        }
      }
      out[y * w + x] = hit;
    }
  }
  return { width: w, height: h, b: out };
}

export interface Component {
  label: number;
  size: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** 8-connected components; `labels` gets each pixel's component (0 = paper). */
export function components(img: Binary): { labels: Int32Array; comps: Component[] } {
  const { width: w, height: h, b } = img;
  const labels = new Int32Array(b.length);
  const comps: Component[] = [];
  const stack: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (!b[i] || labels[i]) continue;
    const c: Component = { label: comps.length + 1, size: 0, x0: w, x1: -1, y0: h, y1: -1 };
    labels[i] = c.label;
    stack.push(i);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % w;
      const y = (p - x) / w;
      c.size++;
      if (x < c.x0) c.x0 = x;
      if (x > c.x1) c.x1 = x;
      if (y < c.y0) c.y0 = y;
      if (y > c.y1) c.y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          const q = yy * w + xx;
          if (b[q] && !labels[q]) { labels[q] = c.label; stack.push(q); }
        }
      }
    }
    comps.push(c);
  }
  return { labels, comps };
}

/**
 * Area-averages the rectangle [x0, x1) x [y0, y1) of `src` (a mask or ink map) into an n x n vector,
 * keeping the aspect ratio (centred, padded), as the classic glyph-map attacks do.
 */
export function resample(
  src: ArrayLike<number>,
  w: number,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
  n: number,
  keep?: (i: number) => boolean,
): Float32Array {
  const out = new Float32Array(n * n);
  const bw = Math.max(1, x1 - x0);
  const bh = Math.max(1, y1 - y0);
  const scale = Math.max(bw, bh) / n;
  const ox = x0 + bw / 2 - (scale * n) / 2;
  const oy = y0 + bh / 2 - (scale * n) / 2;
  const cnt = new Float32Array(n * n);
  for (let y = y0; y < y1; y++) {
    const gy = Math.min(n - 1, Math.floor((y + 0.5 - oy) / scale));
    if (gy < 0) continue;
    for (let x = x0; x < x1; x++) {
      const gx = Math.min(n - 1, Math.floor((x + 0.5 - ox) / scale));
      if (gx < 0) continue;
      const i = y * w + x;
      out[gy * n + gx] += keep && !keep(i) ? 0 : src[i];
      cnt[gy * n + gx]++;
    }
  }
  for (let i = 0; i < out.length; i++) if (cnt[i]) out[i] /= cnt[i];
  return out;
}
