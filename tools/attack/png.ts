// A small PNG decoder and encoder for the attack suite: it reads exactly the bytes a browser receives.
import { deflateSync, inflateSync } from 'node:zlib';
import { pngChunk } from '../../src/lib/captchaImage';

export interface RgbImage {
  width: number;
  height: number;
  /** 3 bytes a pixel, row after row. */
  rgb: Uint8Array;
}

export interface PngChunk {
  type: string;
  data: Buffer;
}

export function pngChunks(png: Buffer): PngChunk[] {
  const chunks: PngChunk[] = [];
  let o = 8;
  while (o < png.length) {
    const len = png.readUInt32BE(o);
    chunks.push({ type: png.toString('latin1', o + 4, o + 8), data: png.subarray(o + 8, o + 8 + len) });
    o += 12 + len;
  }
  return chunks;
}

/** Decodes a non-interlaced PNG of any colour type with bit depth <= 8 into RGB. */
export function decodePng(png: Buffer): RgbImage {
  const chunks = pngChunks(png);
  const ihdr = chunks.find((c) => c.type === 'IHDR')!.data;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const depth = ihdr[8];
  const colourType = ihdr[9];
  if (depth > 8 || ihdr[12] !== 0) throw new Error('unsupported PNG (16-bit or interlaced)');
  const plte = chunks.find((c) => c.type === 'PLTE')?.data;
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colourType as 0 | 2 | 3 | 4 | 6];
  const bpp = Math.max(1, (channels * depth) >> 3);
  const stride = Math.ceil((width * channels * depth) / 8);
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      let v = line[i];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      const sample = (k: number): number => {
        const bit = (x * channels + k) * depth;
        if (depth === 8) return cur[bit >> 3];
        return (cur[bit >> 3] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
      };
      const o = (y * width + x) * 3;
      if (colourType === 3) {
        const i = sample(0);
        rgb[o] = plte![i * 3];
        rgb[o + 1] = plte![i * 3 + 1];
        rgb[o + 2] = plte![i * 3 + 2];
      } else if (colourType === 0 || colourType === 4) {
        const g = depth === 8 ? sample(0) : Math.round((sample(0) * 255) / ((1 << depth) - 1));
        rgb[o] = rgb[o + 1] = rgb[o + 2] = g;
      } else {
        rgb[o] = sample(0);
        rgb[o + 1] = sample(1);
        rgb[o + 2] = sample(2);
      }
    }
    prev.set(cur);
  }
  return { width, height, rgb };
}

/** Luminance 0 (black) .. 255 (white). */
export function toGray(img: RgbImage): Uint8Array {
  const g = new Uint8Array(img.width * img.height);
  for (let i = 0; i < g.length; i++) {
    g[i] = Math.round(0.299 * img.rgb[i * 3] + 0.587 * img.rgb[i * 3 + 1] + 0.114 * img.rgb[i * 3 + 2]);
  }
  return g;
}

/** Encodes 8-bit grayscale (channels 1) or RGB (channels 3). */
export function encodePng(width: number, height: number, pixels: Uint8Array, channels: 1 | 3): Buffer {
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
