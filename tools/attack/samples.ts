// Renders 20 seeded captchas into one grid (docs/captcha-samples.png) and their answers, separately, into
// docs/captcha-samples.txt, for a person to read the grid cold.
import { writeFileSync } from 'node:fs';
import { renderCaptcha } from '../../src/lib/captchaImage';
import { decodePng, encodePng } from './png';
import { seeded } from '../lib/prng';

const COLS = 4;
const ROWS = 5;
const GAP = 8;
const out = process.argv[2] ?? 'docs/captcha-samples';
const random = seeded(Number(process.argv[3] ?? 20261204));
const answers: string[] = [];
const tiles = Array.from({ length: COLS * ROWS }, () => {
  const { text, png } = renderCaptcha(random);
  answers.push(text);
  return decodePng(png);
});
const tw = tiles[0].width;
const th = tiles[0].height;
const W = COLS * tw + (COLS + 1) * GAP;
const H = ROWS * th + (ROWS + 1) * GAP;
const rgb = new Uint8Array(W * H * 3).fill(128);
tiles.forEach((t, k) => {
  const ox = GAP + (k % COLS) * (tw + GAP);
  const oy = GAP + Math.floor(k / COLS) * (th + GAP);
  for (let y = 0; y < th; y++) rgb.set(t.rgb.subarray(y * tw * 3, (y + 1) * tw * 3), ((oy + y) * W + ox) * 3);
});
writeFileSync(`${out}.png`, encodePng(W, H, rgb, 3));
writeFileSync(
  `${out}.txt`,
  `# Answers to ${out}.png, row by row, left to right (seeded: npm run build:tools && node dist/tools/attack/samples.js)\n` +
    answers.map((a, i) => `${i + 1}. ${a}`).join('\n') +
    '\n',
);
