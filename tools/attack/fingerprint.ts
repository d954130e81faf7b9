// Structure attacks on exactly what the client receives: the PNG bytes, and the ink profile they decode to.
import { createHash } from 'node:crypto';
import { inkOf } from './image';
import { Knn } from './knn';
import { pngChunks } from './png';

export interface Attack {
  name: string;
  train(png: Buffer, text: string): void;
  solve(png: Buffer): string;
}

/** Remembers every training image's pixel data (IDAT) and palette: a repeat would be read at once. */
export function exactBytes(): Attack {
  const seen = new Map<string, string>();
  const key = (png: Buffer): string => {
    const h = createHash('sha256');
    for (const c of pngChunks(png)) if (c.type === 'IDAT') h.update(c.data);
    return h.digest('hex');
  };
  return {
    name: 'fingerprint: identical IDAT bytes seen in training',
    train: (png, text) => void seen.set(key(png), text),
    solve: (png) => seen.get(key(png)) ?? '',
  };
}

/** Nearest neighbour on per-column and per-row ink profiles (what svg-captcha's path lengths gave away). */
export function profileNearest(): Attack {
  let knn: Knn | undefined;
  const features = (png: Buffer): Float32Array => {
    const ink = inkOf(png);
    const f = new Float32Array(ink.width + ink.height);
    for (let y = 0; y < ink.height; y++) {
      for (let x = 0; x < ink.width; x++) {
        const v = ink.v[y * ink.width + x];
        f[x] += v / ink.height;
        f[ink.width + y] += v / ink.width;
      }
    }
    return f;
  };
  return {
    name: 'fingerprint: nearest column/row ink profile',
    train(png, text) {
      const f = features(png);
      knn ??= new Knn(f.length);
      knn.add(f, text);
    },
    solve: (png) => knn?.classify(features(png), 1) ?? '',
  };
}

/** Nearest neighbour on the compressed stream's byte histogram and chunk sizes. */
export function byteStatsNearest(): Attack {
  const knn = new Knn(256 + 2);
  const features = (png: Buffer): Float32Array => {
    const f = new Float32Array(258);
    const idat = Buffer.concat(pngChunks(png).filter((c) => c.type === 'IDAT').map((c) => c.data));
    for (const b of idat) f[b] += 1 / idat.length;
    f[256] = idat.length / 4000;
    f[257] = png.length / 4000;
    return f;
  };
  return {
    name: 'fingerprint: nearest IDAT byte histogram + sizes',
    train: (png, text) => knn.add(features(png), text),
    solve: (png) => knn.classify(features(png), 1),
  };
}
