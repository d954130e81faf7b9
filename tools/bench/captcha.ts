// `npm run bench:captcha`: what a captcha costs. The render (CPU per captcha, in the calling thread, as a
// render thread spends it), the PNG's size, and the hand-out at the opening: a captcha taken from a full pool
// and its answer body built, which is all the request thread does for one.
//
//   npm run bench:captcha -- [--renders 1000] [--handouts 20000]
import { parseArgs } from 'node:util';
import pino from 'pino';
import { renderCaptcha } from '../../src/lib/captchaImage';
import { CaptchaPool, InlineCaptchaRenderer } from '../../src/services/CaptchaPool';
import { CaptchaService } from '../../src/services/CaptchaService';

function cpuUs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { renders: { type: 'string', default: '1000' }, handouts: { type: 'string', default: '20000' } } });
  const renders = Math.max(10, Number(values.renders));
  const handouts = Math.max(10, Number(values.handouts));

  for (let i = 0; i < 50; i++) renderCaptcha(); // warm-up
  let bytes = 0;
  const r0 = process.cpuUsage();
  const samples: { text: string; png: Buffer }[] = [];
  for (let i = 0; i < renders; i++) {
    const c = renderCaptcha();
    bytes += c.png.length;
    if (samples.length < 500) samples.push(c);
  }
  const renderUs = cpuUs(r0) / renders;

  let k = 0;
  const pool = new CaptchaPool(new InlineCaptchaRenderer({ create: () => samples[k++ % samples.length] }), handouts, pino({ level: 'silent' }), 1000);
  await pool.fill();
  await pool.close(); // no top-up during the measure: the hand-out alone
  const captchas = new CaptchaService(pool);
  let body = 0;
  const h0 = process.cpuUsage();
  for (let i = 0; i < handouts; i++) {
    const c = captchas.issue(i, 1);
    if (!c || c === 'too_many') throw new Error(`no captcha handed out: ${c}`);
    body += JSON.stringify({ ok: true, path: '/api/sales/1/buy/AAAAAAAAAAAAAAAA', captchaId: c.id, image: c.image, answerAfter: 0, expiresAt: c.expiresAt }).length;
  }
  const handoutUs = cpuUs(h0) / handouts;

  const result = {
    renderCpuUs: Math.round(renderUs),
    pngBytes: Math.round(bytes / renders),
    handoutCpuUs: Number(handoutUs.toFixed(2)),
    answerBytes: Math.round(body / handouts),
    poolFillSecondsPer50kOnOneThread: Number(((renderUs * 50_000) / 1e6).toFixed(1)),
  };
  console.log(`render              ${result.renderCpuUs} µs CPU a captcha (target <= 1,000), PNG ${result.pngBytes} bytes`);
  console.log(`hand-out            ${result.handoutCpuUs} µs CPU a captcha, answer body included (target <= 50), ${result.answerBytes} bytes`);
  console.log(`pool of 50,000      ${result.poolFillSecondsPer50kOnOneThread} s of one render thread`);
  console.log(JSON.stringify(result));
}

void main();
