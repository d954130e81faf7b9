// OCR with Debian's tesseract-ocr: binarise, upscale and pad the image, then read it as one line.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binarise, inkOf } from './image';
import { encodePng } from './png';

const SCALE = 3;
const PAD = 20;

/** Black ink on white, upscaled SCALE times (nearest), with a margin: the form tesseract reads best. */
export function preprocess(png: Buffer): Buffer {
  const img = binarise(inkOf(png), 0.45);
  const w = img.width * SCALE + 2 * PAD;
  const h = img.height * SCALE + 2 * PAD;
  const out = new Uint8Array(w * h).fill(255);
  for (let y = 0; y < img.height * SCALE; y++) {
    for (let x = 0; x < img.width * SCALE; x++) {
      if (img.b[Math.floor(y / SCALE) * img.width + Math.floor(x / SCALE)]) out[(y + PAD) * w + x + PAD] = 0;
    }
  }
  return encodePng(w, h, out, 1);
}

export function tesseractAvailable(): Promise<boolean> {
  return new Promise((resolve) => execFile('tesseract', ['--version'], (err) => resolve(!err)));
}

/** Reads each image with tesseract, `parallel` processes at a time; returns the raw readings in order. */
export async function ocr(pngs: Buffer[], whitelist: string, parallel: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'captcha-ocr-'));
  const results: string[] = new Array(pngs.length).fill('');
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pngs.length) {
      const i = next++;
      const file = join(dir, `${i}.png`);
      writeFileSync(file, preprocess(pngs[i]));
      results[i] = await new Promise<string>((resolve) =>
        execFile(
          'tesseract',
          [file, 'stdout', '--psm', '7', '-c', `tessedit_char_whitelist=${whitelist}`],
          { env: { ...process.env, OMP_THREAD_LIMIT: '1' }, timeout: 30_000 },
          (err, stdout) => resolve(err ? '' : stdout),
        ),
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
