// Draws a captcha as a small palette PNG with no per-character structure: svg-captcha supplies the text's
// alphabet and the glyph outlines, and this file rasterises them distorted, overlapped, cluttered and warped.
import { constants as zlibConstants, crc32, deflateSync } from 'node:zlib';
import svgCaptcha from 'svg-captcha';

/**
 * The characters a captcha may contain: svg-captcha's preset, minus those a person confuses once distorted
 * (also f/j/s through the font's hooks, and x/k/y once crossed by a curve).
 */
export const CAPTCHA_CHARSET = 'bdeghkpsy24';
export const CAPTCHA_LENGTH = 5;
export const CAPTCHA_WIDTH = 240;
export const CAPTCHA_HEIGHT = 80;

// Glyphs and clutter are filled into a mask SS times finer than the image, then warped and averaged down:
// the averaging is the anti-aliasing, and warping at that point bends glyphs and clutter alike.
const SS = 2;
const MW = CAPTCHA_WIDTH * SS;
const MH = CAPTCHA_HEIGHT * SS;
const LEVELS = SS * SS + 1;

interface Outline {
  /** Contours as flat [x0, y0, x1, y1, ...] at font size 1, origin at the glyph's horizontal centre on the baseline. */
  contours: Float64Array[];
}

interface FontCommand {
  type: string;
  x?: number;
  y?: number;
  x1?: number;
  y1?: number;
  x2?: number;
  y2?: number;
}

interface OpentypeFont {
  getPath(text: string, x: number, y: number, size: number): { commands: FontCommand[] };
}

interface SvgCaptchaGlobals {
  charPreset: string;
  font: OpentypeFont;
}

// Outlines are flattened once per character, on first use (no work at import time).
let outlines: Map<string, Outline> | undefined;

function glyphOutlines(): Map<string, Outline> {
  if (outlines) return outlines;
  const globals = svgCaptcha.options as unknown as SvgCaptchaGlobals;
  const map = new Map<string, Outline>();
  for (const ch of CAPTCHA_CHARSET) {
    if (!globals.charPreset.includes(ch)) throw new Error(`svg-captcha's preset lacks ${ch}`);
    map.set(ch, flatten(globals.font.getPath(ch, 0, 0, 1).commands));
  }
  outlines = map;
  return map;
}

function flatten(commands: FontCommand[]): Outline {
  const contours: Float64Array[] = [];
  let pts: number[] = [];
  let cx = 0;
  let cy = 0;
  const close = (): void => {
    if (pts.length >= 6) contours.push(Float64Array.from(pts));
    pts = [];
  };
  for (const c of commands) {
    if (c.type === 'M') {
      close();
      cx = c.x!;
      cy = c.y!;
      pts.push(cx, cy);
    } else if (c.type === 'L') {
      cx = c.x!;
      cy = c.y!;
      pts.push(cx, cy);
    } else if (c.type === 'Q') {
      const n = 4;
      for (let i = 1; i <= n; i++) {
        const t = i / n;
        const u = 1 - t;
        pts.push(u * u * cx + 2 * u * t * c.x1! + t * t * c.x!, u * u * cy + 2 * u * t * c.y1! + t * t * c.y!);
      }
      cx = c.x!;
      cy = c.y!;
    } else if (c.type === 'C') {
      const n = 6;
      for (let i = 1; i <= n; i++) {
        const t = i / n;
        const u = 1 - t;
        const a = u * u * u;
        const b = 3 * u * u * t;
        const d = 3 * u * t * t;
        const e = t * t * t;
        pts.push(a * cx + b * c.x1! + d * c.x2! + e * c.x!, a * cy + b * c.y1! + d * c.y2! + e * c.y!);
      }
      cx = c.x!;
      cy = c.y!;
    } else if (c.type === 'Z') {
      close();
    }
  }
  close();
  // Centre horizontally on the ink so rotation and placement act around the glyph's middle.
  let minX = Infinity;
  let maxX = -Infinity;
  for (const c of contours) {
    for (let i = 0; i < c.length; i += 2) {
      if (c[i] < minX) minX = c[i];
      if (c[i] > maxX) maxX = c[i];
    }
  }
  const mid = (minX + maxX) / 2;
  for (const c of contours) for (let i = 0; i < c.length; i += 2) c[i] -= mid;
  // Comismsh draws each letter hollow: an outline ring around the letter and one around each counter.
  // At this size a ring reads as noise, so keep the ring's outer edge and the counter's inner edge
  // (nesting depths 1 and 2, filled even-odd): a solid letter.
  const depth = contours.map((c, k) => contours.filter((o, j) => j !== k && inside(o, c[0], c[1])).length);
  return { contours: contours.filter((_, k) => depth[k] % 4 === 1 || depth[k] % 4 === 2) };
}

function inside(poly: Float64Array, x: number, y: number): boolean {
  let odd = false;
  for (let i = 0, j = poly.length - 2; i < poly.length; j = i, i += 2) {
    if (poly[i + 1] > y !== poly[j + 1] > y && x < ((poly[j] - poly[i]) * (y - poly[i + 1])) / (poly[j + 1] - poly[i + 1]) + poly[i]) {
      odd = !odd;
    }
  }
  return odd;
}

// Scratch buffers reused across renders (a render thread draws one captcha at a time).
const mask = new Uint8Array(MW * MH);
let xs = new Float64Array(64);
let dirs = new Int8Array(64);

/**
 * Fills the polygons in `polys` (flat point lists in mask pixels) into the mask with the even-odd rule,
 * sampling each mask pixel at its centre.
 */
function fillPolygons(polys: Float64Array[]): void {
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of polys) {
    for (let i = 1; i < p.length; i += 2) {
      if (p[i] < minY) minY = p[i];
      if (p[i] > maxY) maxY = p[i];
    }
  }
  const y0 = Math.max(0, Math.floor(minY));
  const y1 = Math.min(MH - 1, Math.ceil(maxY));
  for (let y = y0; y <= y1; y++) {
    const sy = y + 0.5;
    let n = 0;
    for (const p of polys) {
      const len = p.length;
      for (let i = 0; i < len; i += 2) {
        const ax = p[i];
        const ay = p[i + 1];
        const j = i + 2 < len ? i + 2 : 0;
        const bx = p[j];
        const by = p[j + 1];
        let dir: number;
        if (ay <= sy && by > sy) dir = 1;
        else if (by <= sy && ay > sy) dir = -1;
        else continue;
        if (n === xs.length) {
          const nx = new Float64Array(n * 2);
          nx.set(xs);
          xs = nx;
          const nd = new Int8Array(n * 2);
          nd.set(dirs);
          dirs = nd;
        }
        // Insertion sort as we go: a row crosses few edges.
        const x = ax + ((sy - ay) * (bx - ax)) / (by - ay);
        let k = n++;
        while (k > 0 && xs[k - 1] > x) {
          xs[k] = xs[k - 1];
          dirs[k] = dirs[k - 1];
          k--;
        }
        xs[k] = x;
        dirs[k] = dir;
      }
    }
    let winding = 0;
    const row = y * MW;
    for (let k = 0; k < n - 1; k++) {
      winding += dirs[k];
      if ((winding & 1) === 0) continue;
      const from = Math.max(0, Math.ceil(xs[k] - 0.5));
      const to = Math.min(MW, Math.ceil(xs[k + 1] - 0.5));
      if (to > from) mask.fill(1, row + from, row + to);
    }
  }
}

/** The outline of a stroke of width `w` along the polyline `pts` (mask pixels), as one polygon. */
function strokeOutline(pts: number[], w: number): Float64Array {
  const n = pts.length / 2;
  const out = new Float64Array(n * 4);
  const h = w / 2;
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, i - 1);
    const b = Math.min(n - 1, i + 1);
    let tx = pts[2 * b] - pts[2 * a];
    let ty = pts[2 * b + 1] - pts[2 * a + 1];
    const len = Math.hypot(tx, ty) || 1;
    tx /= len;
    ty /= len;
    const x = pts[2 * i];
    const y = pts[2 * i + 1];
    out[2 * i] = x - ty * h;
    out[2 * i + 1] = y + tx * h;
    const r = 2 * (2 * n - 1 - i);
    out[r] = x + ty * h;
    out[r + 1] = y - tx * h;
  }
  return out;
}

function hsl(h: number, s: number, l: number): [number, number, number] {
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const f = (t: number): number => {
    t = (t + 1) % 1;
    if (t < 1 / 6) return p + (q - p) * 6 * t;
    if (t < 1 / 2) return q;
    if (t < 2 / 3) return p + (q - p) * (2 / 3 - t) * 6;
    return p;
  };
  return [Math.round(f(h + 1 / 3) * 255), Math.round(f(h) * 255), Math.round(f(h - 1 / 3) * 255)];
}

/** One PNG chunk: length, type, data and CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A 4-bit palette PNG: `levels` holds one palette index per pixel. */
function encodePng(levels: Uint8Array, palette: Buffer): Buffer {
  const stride = 1 + CAPTCHA_WIDTH / 2;
  const raw = Buffer.alloc(stride * CAPTCHA_HEIGHT);
  for (let y = 0; y < CAPTCHA_HEIGHT; y++) {
    const src = y * CAPTCHA_WIDTH;
    const dst = y * stride + 1;
    for (let x = 0; x < CAPTCHA_WIDTH; x += 2) raw[dst + (x >> 1)] = (levels[src + x] << 4) | levels[src + x + 1];
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(CAPTCHA_WIDTH, 0);
  ihdr.writeUInt32BE(CAPTCHA_HEIGHT, 4);
  ihdr[8] = 4; // bit depth
  ihdr[9] = 3; // colour type: palette
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('PLTE', palette),
    // Run-length matching only: rows of paper and solid ink are runs, and a full LZ search costs ~20x the CPU.
    pngChunk('IDAT', deflateSync(raw, { level: 9, strategy: zlibConstants.Z_RLE })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const levels = new Uint8Array(CAPTCHA_WIDTH * CAPTCHA_HEIGHT);
const warpX = new Float64Array(CAPTCHA_WIDTH);
const shiftXByRow = new Float64Array(CAPTCHA_HEIGHT);
const shiftYByCol = new Float64Array(CAPTCHA_WIDTH);

/** The knobs of the distortion; the attack suite turns them down to show its attacks work on easy images. */
export interface CaptchaStyle {
  /** Largest per-glyph rotation, radians either way. */
  rotation: number;
  /** Largest per-glyph horizontal shear, either way. */
  shear: number;
  /** Largest per-glyph vertical offset, image pixels either way. */
  jitter: number;
  /** Advance from one glyph to the next, in em (glyphs are ~0.37 em wide: less overlaps them). */
  step: [number, number];
  /** Long curves drawn through the word with the glyphs' pen. */
  arcs: number;
  /** Short flat bars across two neighbouring glyphs (the shop draws none: a second long curve reads better). */
  hooks: number;
  /** Scale of the whole-image sine warp (1 = the shop's). */
  warp: number;
}

export const SHOP_STYLE: Readonly<CaptchaStyle> = Object.freeze({
  rotation: 0.15,
  shear: 0.2,
  jitter: 4,
  step: [0.38, 0.42] as [number, number],
  arcs: 2,
  hooks: 0,
  warp: 1,
});

/**
 * Renders a fresh captcha. Every random choice, the text included, comes from `random`, so a seeded
 * generator gives the same image twice.
 */
export function renderCaptcha(random: () => number = Math.random): { text: string; png: Buffer } {
  return renderCaptchaStyled(random, SHOP_STYLE);
}

export function renderCaptchaStyled(random: () => number, style: Readonly<CaptchaStyle>): { text: string; png: Buffer } {
  const glyphs = glyphOutlines();
  const between = (a: number, b: number): number => a + (b - a) * random();

  let text = '';
  for (let i = 0; i < CAPTCHA_LENGTH; i++) text += CAPTCHA_CHARSET[Math.floor(random() * CAPTCHA_CHARSET.length)];

  mask.fill(0);
  const size = between(86, 94) * SS; // font size in mask pixels
  const stroke = size * 0.045; // about the font's own stroke width
  const step = size * between(style.step[0], style.step[1]);
  let x = MW / 2 - (step * (CAPTCHA_LENGTH - 1)) / 2 + between(-12, 12) * SS;
  const baseline = MH * 0.68 + between(-3, 3) * SS;
  for (const ch of text) {
    const angle = between(-style.rotation, style.rotation);
    const sx = size * between(0.8, 1.15);
    const sy = size * between(0.9, 1.15);
    const shear = between(-style.shear, style.shear);
    const gx = x + between(-3, 3) * SS;
    const gy = baseline + between(-style.jitter, style.jitter) * SS;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    // Rotate around the middle of the x-height, not the baseline, so tall letters do not swing away.
    const pivot = -0.16;
    const polys = glyphs.get(ch)!.contours.map((c) => {
      const p = new Float64Array(c.length);
      for (let i = 0; i < c.length; i += 2) {
        const u = (c[i] + shear * (c[i + 1] - pivot)) * sx;
        const v = (c[i + 1] - pivot) * sy;
        p[i] = gx + u * cos - v * sin;
        p[i + 1] = gy + pivot * sy + u * sin + v * cos;
      }
      return p;
    });
    fillPolygons(polys);
    x += step * between(0.85, 1.15);
  }

  // Clutter drawn with the glyphs' pen: long curves through the whole word (two, crossing each other), so
  // neither thinning nor connected components separate them from the text. Short hooks the size of a
  // letter's bowl were read by people as an extra letter: long curves cannot be taken for one.
  for (let i = 0; i < style.arcs; i++) {
    // From one side of the word to the other, crossing the letters' band on a slant with one bend.
    const x0 = MW * between(0.03, 0.25);
    const x1 = MW * between(0.75, 0.97);
    // Alternate the slant so the two curves cross each other and the letters, instead of running along them.
    const down = (i % 2 === 0) === random() < 0.5;
    const ya = down ? between(-0.75, -0.45) : between(0, 0.2);
    const yb = down ? between(0, 0.2) : between(-0.75, -0.45);
    const bend = between(-0.2, 0.2);
    const ph = between(0, Math.PI);
    const pts: number[] = [];
    const n = 24;
    for (let k = 0; k <= n; k++) {
      const t = k / n;
      pts.push(x0 + (x1 - x0) * t, baseline + (ya + (yb - ya) * t + bend * Math.sin(Math.PI * t * 1.5 + ph)) * size);
    }
    fillPolygons([strokeOutline(pts, stroke * between(0.8, 1.05))]);
  }
  for (let i = 0; i < style.hooks; i++) {
    // A shallow bar across two neighbouring glyphs in the x-height band: too long and too flat to be a glyph.
    const len = size * between(0.55, 0.8);
    const cx = MW / 2 + between(-0.35, 0.35) * step * CAPTCHA_LENGTH;
    const cy = baseline - size * between(0.12, 0.32);
    const tilt = between(-0.25, 0.25);
    const sag = size * between(-0.05, 0.05);
    const pts: number[] = [];
    const n = 8;
    for (let k = 0; k <= n; k++) {
      const t = k / n - 0.5;
      const u = t * len;
      const v = sag * (1 - 4 * t * t);
      pts.push(cx + u * Math.cos(tilt) - v * Math.sin(tilt), cy + u * Math.sin(tilt) + v * Math.cos(tilt));
    }
    fillPolygons([strokeOutline(pts, stroke * between(0.8, 1.05))]);
  }

  // Smooth whole-image warp: each term bends a different band of the word by a different amount.
  const ax = between(2.5, 4) * style.warp;
  const ay = between(3, 5) * style.warp;
  const fx = between(0.1, 0.18);
  const fy = between(0.04, 0.07);
  const px = between(0, 2 * Math.PI);
  const py = between(0, 2 * Math.PI);
  const stretch = between(12, 18) * style.warp;
  const sf = between(0.02, 0.032);
  const sp = between(0, 2 * Math.PI);
  for (let yy = 0; yy < CAPTCHA_HEIGHT; yy++) shiftXByRow[yy] = ax * Math.sin(yy * fx + px);
  for (let xx = 0; xx < CAPTCHA_WIDTH; xx++) {
    shiftYByCol[xx] = ay * Math.sin(xx * fy + py);
    warpX[xx] = xx + stretch * Math.sin(xx * sf + sp);
  }
  let o = 0;
  for (let yy = 0; yy < CAPTCHA_HEIGHT; yy++) {
    const rowShift = shiftXByRow[yy];
    for (let xx = 0; xx < CAPTCHA_WIDTH; xx++, o++) {
      const mx = Math.floor((warpX[xx] + rowShift) * SS);
      const my = Math.floor((yy + shiftYByCol[xx]) * SS);
      let c = 0;
      if (mx >= 0 && my >= 0 && mx <= MW - SS && my <= MH - SS) {
        for (let j = 0; j < SS; j++) {
          const r = (my + j) * MW + mx;
          for (let i = 0; i < SS; i++) c += mask[r + i];
        }
      }
      levels[o] = c;
    }
  }

  // One ink for every glyph and every clutter stroke; its hue and the paper's tint change per image.
  const hue = random();
  const ink = hsl(hue, between(0.3, 0.6), between(0.18, 0.3));
  const paper = hsl(hue + between(0.3, 0.7), between(0.2, 0.5), between(0.93, 0.97));
  const palette = Buffer.alloc(LEVELS * 3);
  for (let l = 0; l < LEVELS; l++) {
    const t = l / (LEVELS - 1);
    for (let k = 0; k < 3; k++) palette[l * 3 + k] = Math.round(paper[k] + (ink[k] - paper[k]) * t);
  }
  return { text, png: encodePng(levels, palette) };
}
