// Attack suite for the shop's captcha: attacks it from the strongest position (the generator's code and as
// many labelled samples as wanted) and prints how often each attack reads the whole answer.
// npm run attack:captcha -- [--count N] [--train N] [--ocr-count N] [--json FILE] [--max-rate R] [--seed S] [--control]
import { writeFileSync } from 'node:fs';
import { CAPTCHA_CHARSET, CaptchaStyle, renderCaptcha, renderCaptchaStyled, SHOP_STYLE } from '../../src/lib/captchaImage';
import { Attack, byteStatsNearest, exactBytes, profileNearest } from './fingerprint';
import { Knn } from './knn';
import { ocr, tesseractAvailable } from './ocr';
import { seeded } from '../lib/prng';
import { componentSegmenter, GLYPHS, MAP, projectionSegmenter, Segmenter } from './segment';

interface Args {
  count: number;
  train: number;
  ocrCount: number;
  json?: string;
  maxRate?: number;
  seed: number;
  control: boolean;
}

/**
 * The control: the same renderer with the distortion turned down (small rotation, no clutter, no warp).
 * The attacks must read most of these, or a low rate on the shop's captchas proves nothing.
 */
const CONTROL_STYLE: CaptchaStyle = { ...SHOP_STYLE, rotation: 0.15, shear: 0.1, jitter: 2, step: [0.36, 0.4], arcs: 0, hooks: 0, warp: 0 };

function parseArgs(argv: string[]): Args {
  const args: Args = { count: 1000, train: 3000, ocrCount: -1, seed: 1, control: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--count': args.count = Number(v); i++; break;
      case '--train': args.train = Number(v); i++; break;
      case '--ocr-count': args.ocrCount = Number(v); i++; break;
      case '--json': args.json = v; i++; break;
      case '--max-rate': args.maxRate = Number(v); i++; break;
      case '--seed': args.seed = Number(v); i++; break;
      case '--control': args.control = true; break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (args.ocrCount < 0) args.ocrCount = args.count;
  return args;
}

interface Result {
  name: string;
  solved: number;
  total: number;
  rate: number;
  /** Share of single characters read right, where the attack reads characters one by one. */
  charRate?: number;
  seconds: number;
}

type Sample = { text: string; png: Buffer };

/** Segmentation + k nearest neighbours on 16x16 glyph maps, trained on every glyph of the training set. */
function segmentationAttack(seg: Segmenter, k: number): Attack {
  const knn = new Knn(MAP * MAP);
  return {
    name: `segmentation: ${seg.name} + ${k}-NN on ${MAP}x${MAP} glyph maps`,
    train(png, text) {
      const g = seg.glyphs(png);
      if (g) g.forEach((m, i) => knn.add(m, text[i]));
    },
    solve(png) {
      const g = seg.glyphs(png);
      return g ? g.map((m) => knn.classify(m, k)).join('') : '';
    },
  };
}

function run(attack: Attack, train: Sample[], test: Sample[]): Result {
  const t0 = process.hrtime.bigint();
  for (const s of train) attack.train(s.png, s.text);
  let solved = 0;
  let charsRight = 0;
  for (const s of test) {
    const guess = attack.solve(s.png).toLowerCase();
    if (guess === s.text.toLowerCase()) solved++;
    for (let i = 0; i < GLYPHS; i++) if (guess[i] === s.text[i].toLowerCase()) charsRight++;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { name: attack.name, solved, total: test.length, rate: solved / test.length, charRate: charsRight / (test.length * GLYPHS), seconds };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // Training and test images come from different seeds: the test captchas are fresh.
  const trainRandom = seeded(args.seed * 7919 + 1);
  const testRandom = seeded(args.seed * 7919 + 2);
  const render = args.control ? (r: () => number) => renderCaptchaStyled(r, CONTROL_STYLE) : renderCaptcha;
  const train: Sample[] = Array.from({ length: args.train }, () => render(trainRandom));
  const test: Sample[] = Array.from({ length: args.count }, () => render(testRandom));
  console.log(
    `captcha attack suite${args.control ? ' (CONTROL: distortion turned down)' : ''}: ` +
      `${args.train} labelled training captchas, ${args.count} fresh test captchas`,
  );

  const attacks: Attack[] = [
    exactBytes(),
    profileNearest(),
    byteStatsNearest(),
    segmentationAttack(projectionSegmenter({ open: 0, bandHeight: 48, minColumn: 6 }), 1),
    segmentationAttack(projectionSegmenter({ open: 1, bandHeight: 48, minColumn: 4 }), 3),
    segmentationAttack(componentSegmenter({ open: 0, glyphWidth: 24 }), 1),
    segmentationAttack(componentSegmenter({ open: 1, glyphWidth: 24 }), 3),
  ];
  const results: Result[] = [];
  for (const a of attacks) {
    const r = run(a, train, test);
    results.push(r);
    report(r);
  }

  if (args.ocrCount > 0) {
    const name = 'OCR: tesseract 5 --psm 7, whitelist, binarised and upscaled x3';
    if (!(await tesseractAvailable())) throw new Error('tesseract not found: apt-get install -y tesseract-ocr');
    const t0 = process.hrtime.bigint();
    const sample = test.slice(0, args.ocrCount);
    const whitelist = [...new Set(CAPTCHA_CHARSET + CAPTCHA_CHARSET.toUpperCase())].join('');
    const readings = await ocr(sample.map((s) => s.png), whitelist, 2);
    let solved = 0;
    let charsRight = 0;
    readings.forEach((r, i) => {
      const guess = r.replace(/[^0-9a-z]/gi, '').toLowerCase();
      if (guess === sample[i].text) solved++;
      for (let k = 0; k < GLYPHS; k++) if (guess[k] === sample[i].text[k]) charsRight++;
    });
    const r: Result = {
      name,
      solved,
      total: sample.length,
      rate: solved / sample.length,
      charRate: charsRight / (sample.length * GLYPHS),
      seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    };
    results.push(r);
    report(r);
  }

  if (args.json) {
    writeFileSync(args.json, JSON.stringify({ attacks: results.map(({ name, solved, total, rate }) => ({ name, solved, total, rate })) }, null, 2) + '\n');
  }
  const worst = Math.max(...results.map((r) => r.rate));
  console.log(`worst attack: ${(worst * 100).toFixed(1)}%`);
  if (args.maxRate !== undefined && worst > args.maxRate) {
    console.error(`FAIL: an attack solved more than ${(args.maxRate * 100).toFixed(1)}% of the captchas`);
    process.exitCode = 1;
  }
}

function report(r: Result): void {
  const chars = r.charRate === undefined ? '' : `, ${(r.charRate * 100).toFixed(1)}% of characters`;
  console.log(`${(r.rate * 100).toFixed(1).padStart(5)}%  ${String(r.solved).padStart(4)}/${r.total}  ${r.name}  (${r.seconds.toFixed(1)} s${chars})`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
