// The captcha pool: filled ahead of time up to its bound, a take is a pop, and the render threads draw
// real PNGs off the main thread.
import path from 'node:path';
import pino from 'pino';
import { CaptchaPool, InlineCaptchaRenderer, ThreadCaptchaRenderer } from '../../src/services/CaptchaPool';

const log = pino({ level: 'silent' });

function counting() {
  let drawn = 0;
  const renderer = new InlineCaptchaRenderer({ create: () => ({ text: `t${++drawn}`, png: Buffer.from([drawn]) }) });
  return { renderer, drawn: () => drawn };
}

describe('CaptchaPool', () => {
  it('when filled, then it holds exactly its size, and no more are drawn', async () => {
    const r = counting();
    const pool = new CaptchaPool(r.renderer, 10, log, 4);

    await pool.fill();

    expect(pool.available()).toBe(10);
    expect(r.drawn()).toBe(10);
  });

  it('when captchas are taken, then each is handed out once and the pool tops itself up in the background', async () => {
    const r = counting();
    const pool = new CaptchaPool(r.renderer, 3, log);
    await pool.fill();

    const taken = [pool.take(), pool.take()].map((c) => c!.text);
    await pool.fill(); // waits for the top-up the takes started

    expect(new Set(taken).size).toBe(2);
    expect(pool.available()).toBe(3);
    expect(r.drawn()).toBe(5);
  });

  it('when fill is called on a full pool, then later takes still top it up', async () => {
    const r = counting();
    const pool = new CaptchaPool(r.renderer, 2, log);
    await pool.fill();
    await pool.fill(); // already full

    pool.take();
    await pool.fill();

    expect(pool.available()).toBe(2);
    expect(r.drawn()).toBe(3);
  });

  it('when the pool is empty, then take answers undefined at once', () => {
    const pool = new CaptchaPool(counting().renderer, 3, log);

    expect(pool.take()).toBeUndefined();
  });
});

describe('ThreadCaptchaRenderer', () => {
  it('when asked for captchas, then a worker thread draws them as PNG data URLs with their answers', async () => {
    const renderer = new ThreadCaptchaRenderer(1, log, {
      filename: path.join(__dirname, '../helpers/tsWorker.js'),
      extra: { entry: path.join(__dirname, '../../src/lib/captchaRenderThread.ts') },
    });
    try {
      const captchas = await renderer.render(3);

      expect(captchas).toHaveLength(3);
      for (const c of captchas) {
        expect(c.text).toMatch(/^[a-z0-9]{5}$/i);
        expect(Buffer.from(c.image.replace(/^data:image\/png;base64,/, ''), 'base64').subarray(1, 4).toString()).toBe('PNG');
      }
    } finally {
      await renderer.close();
    }
  });
});

describe('ThreadCaptchaRenderer when its thread dies', () => {
  it('when the render thread exits mid-request, then the request fails and the next one gets a new thread', async () => {
    const renderer = new ThreadCaptchaRenderer(1, log, {
      filename: path.join(__dirname, '../helpers/tsWorker.js'),
      extra: { entry: path.join(__dirname, '../helpers/exitingRenderThread.ts') },
    });
    try {
      await expect(renderer.render(1)).rejects.toThrow(/exited/);
      await expect(renderer.render(1)).rejects.toThrow(/exited/);
    } finally {
      await renderer.close();
    }
  });

  it('when a pool whose renderer fails is closed, then close returns (it does not wait on the failed top-up)', async () => {
    const renderer = new ThreadCaptchaRenderer(1, log, {
      filename: path.join(__dirname, '../helpers/tsWorker.js'),
      extra: { entry: path.join(__dirname, '../helpers/exitingRenderThread.ts') },
    });
    const pool = new CaptchaPool(renderer, 3, log);
    const filling = pool.fill();

    await pool.close();
    await filling;

    expect(pool.available()).toBe(0);
  });
});
