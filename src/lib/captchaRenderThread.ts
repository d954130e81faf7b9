// Entry of a captcha render thread: draws the captchas the main thread's pool asks for, off the request path.
import { parentPort } from 'node:worker_threads';
import { renderCaptcha } from './captchaImage';

if (parentPort) {
  const port = parentPort;
  port.on('message', ({ id, n }: { id: number; n: number }) => {
    try {
      const captchas = [];
      for (let i = 0; i < n; i++) {
        const { text, png } = renderCaptcha();
        captchas.push({ text, image: `data:image/png;base64,${png.toString('base64')}` });
      }
      port.postMessage({ id, captchas });
    } catch (err) {
      port.postMessage({ id, error: (err as Error).message });
    }
  });
}
