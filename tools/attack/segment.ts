// Segmentation attacks: clean the image, cut it into the expected five glyphs, and turn each into a
// 16x16 glyph map. Training samples go through the same cuts, so the classifier learns their mistakes too.
import { Binary, binarise, components, inkOf, morph, open, resample } from './image';

export const GLYPHS = 5;
export const MAP = 16;

export interface Segmenter {
  name: string;
  /** Five 16x16 glyph maps, left to right, or null when the image cannot be cut into five. */
  glyphs(png: Buffer): Float32Array[] | null;
}

/** Removes specks and, with `r` > 0, strokes thinner than 2r+1 pixels (noise lines). */
function clean(img: Binary, r: number, minSize: number): Binary {
  const o = r > 0 ? open(img, r) : img;
  const { labels, comps } = components(o);
  const keep = new Uint8Array(comps.length + 1);
  for (const c of comps) keep[c.label] = c.size >= minSize ? 1 : 0;
  const b = new Uint8Array(o.b.length);
  for (let i = 0; i < b.length; i++) b[i] = keep[labels[i]];
  return { width: o.width, height: o.height, b };
}

/** The rows of the densest horizontal band of height `h`: where the word is, since clutter is sparser. */
function band(img: Binary, h: number): [number, number] {
  const rows = new Float64Array(img.height);
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) rows[y] += img.b[y * img.width + x];
  let best = 0;
  let at = 0;
  for (let y = 0; y + h <= img.height; y++) {
    let s = 0;
    for (let k = 0; k < h; k++) s += rows[y + k];
    if (s > best) { best = s; at = y; }
  }
  return [at, at + h];
}

function cropMap(img: Binary, x0: number, x1: number, y0: number, y1: number): Float32Array {
  // Tighten the box to the ink inside it so the map is normalised in size as well as position.
  let tx0 = x1, tx1 = x0, ty0 = y1, ty1 = y0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      if (img.b[y * img.width + x]) {
        if (x < tx0) tx0 = x;
        if (x >= tx1) tx1 = x + 1;
        if (y < ty0) ty0 = y;
        if (y >= ty1) ty1 = y + 1;
      }
    }
  }
  if (tx1 <= tx0) return new Float32Array(MAP * MAP);
  return resample(img.b, img.width, tx0, tx1, ty0, ty1, MAP);
}

/** Column projection inside the word's band, cut in five at the profile's minima near the even cuts. */
export function projectionSegmenter(opts: { open: number; bandHeight: number; minColumn: number }): Segmenter {
  return {
    name: `projection(open ${opts.open}, band ${opts.bandHeight})`,
    glyphs(png) {
      const img = clean(binarise(inkOf(png), 0.45), opts.open, 12);
      const [by0, by1] = band(img, opts.bandHeight);
      const prof = new Float64Array(img.width);
      for (let y = by0; y < by1; y++) for (let x = 0; x < img.width; x++) prof[x] += img.b[y * img.width + x];
      // The word's ends: the first and last columns with more ink than a crossing noise line gives.
      let xa = 0;
      while (xa < img.width && prof[xa] < opts.minColumn) xa++;
      let xb = img.width - 1;
      while (xb > xa && prof[xb] < opts.minColumn) xb--;
      if (xb - xa < GLYPHS * 4) return null;
      const w = (xb + 1 - xa) / GLYPHS;
      const cuts = [xa];
      for (let k = 1; k < GLYPHS; k++) {
        const c = xa + k * w;
        let best = Math.round(c);
        for (let x = Math.round(c - w / 4); x <= Math.round(c + w / 4); x++) if (prof[x] < prof[best]) best = x;
        cuts.push(best);
      }
      cuts.push(xb + 1);
      const out: Float32Array[] = [];
      for (let k = 0; k < GLYPHS; k++) out.push(cropMap(img, cuts[k], cuts[k + 1], 0, img.height));
      return out;
    },
  };
}

/**
 * Connected components after cleaning; components too wide for one glyph are split evenly by their
 * width, the five largest pieces are kept and read left to right.
 */
export function componentSegmenter(opts: { open: number; glyphWidth: number }): Segmenter {
  return {
    name: `components(open ${opts.open})`,
    glyphs(png) {
      let img = clean(binarise(inkOf(png), 0.45), opts.open, 20);
      img = morph(img, 0, false);
      const { comps } = components(img);
      type Piece = { x0: number; x1: number; y0: number; y1: number; size: number };
      let pieces: Piece[] = [];
      for (const c of comps) {
        const n = Math.max(1, Math.round((c.x1 + 1 - c.x0) / opts.glyphWidth));
        const pw = (c.x1 + 1 - c.x0) / n;
        for (let k = 0; k < n; k++) {
          pieces.push({ x0: Math.round(c.x0 + k * pw), x1: Math.round(c.x0 + (k + 1) * pw), y0: c.y0, y1: c.y1 + 1, size: c.size / n });
        }
      }
      // Too few pieces: split the widest until there are five.
      while (pieces.length > 0 && pieces.length < GLYPHS) {
        pieces.sort((a, b) => b.x1 - b.x0 - (a.x1 - a.x0));
        const p = pieces.shift()!;
        const m = Math.round((p.x0 + p.x1) / 2);
        pieces.push({ ...p, x1: m, size: p.size / 2 }, { ...p, x0: m, size: p.size / 2 });
      }
      if (pieces.length < GLYPHS) return null;
      pieces = pieces.sort((a, b) => b.size - a.size).slice(0, GLYPHS).sort((a, b) => a.x0 - b.x0);
      return pieces.map((p) => cropMap(img, p.x0, p.x1, p.y0, p.y1));
    },
  };
}
