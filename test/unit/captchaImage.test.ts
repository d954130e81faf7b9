import { inflateSync } from 'node:zlib';
import { seeded } from '../../tools/lib/prng';
import { CAPTCHA_CHARSET, CAPTCHA_HEIGHT, CAPTCHA_LENGTH, CAPTCHA_WIDTH, renderCaptcha } from '../../src/lib/captchaImage';


function idat(png: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let o = 8; o < png.length; ) {
    const len = png.readUInt32BE(o);
    if (png.toString('latin1', o + 4, o + 8) === 'IDAT') parts.push(png.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  return inflateSync(Buffer.concat(parts));
}

describe('renderCaptcha', () => {
  it('when rendered, then the output is a PNG of the declared size whose pixel data inflates', () => {
    const { png } = renderCaptcha(seeded(1));

    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.toString('latin1', 12, 16)).toBe('IHDR');
    expect(png.readUInt32BE(16)).toBe(CAPTCHA_WIDTH);
    expect(png.readUInt32BE(20)).toBe(CAPTCHA_HEIGHT);
    expect(png.length).toBeLessThan(6 * 1024);
    // 4-bit palette rows: one filter byte and two pixels a byte.
    expect(idat(png).length).toBe(CAPTCHA_HEIGHT * (1 + CAPTCHA_WIDTH / 2));
  });

  it('when rendered many times, then every text has the fixed length and only allowed characters', () => {
    const random = seeded(2);
    for (let i = 0; i < 200; i++) {
      const { text } = renderCaptcha(random);
      expect(text).toHaveLength(CAPTCHA_LENGTH);
      for (const ch of text) expect(CAPTCHA_CHARSET).toContain(ch);
    }
    for (const ambiguous of '0oO1iIlrTwvmn') expect(CAPTCHA_CHARSET).not.toContain(ambiguous);
  });

  it('when given the same seed, then it draws the same text and the same bytes', () => {
    const a = renderCaptcha(seeded(3));
    const b = renderCaptcha(seeded(3));

    expect(b.text).toBe(a.text);
    expect(b.png.equals(a.png)).toBe(true);
  });

  it('when rendered, then the output carries no SVG or path structure', () => {
    const { png } = renderCaptcha(seeded(4));
    const latin = png.toString('latin1');

    expect(latin).not.toMatch(/<svg|<path|\bd="/i);
    expect(png.subarray(0, 8).toString('latin1')).not.toContain('<');
  });

  it('when the same text is drawn twice, then the two images differ', () => {
    // Same draws for the text, different draws for everything after it.
    const first = renderCaptcha(seeded(5));
    const replay = (): (() => number) => {
      // Replays the text's draws, then continues with a different stream.
      const textDraws: number[] = [];
      const source = seeded(5);
      for (let i = 0; i < CAPTCHA_LENGTH; i++) textDraws.push(source());
      const rest = seeded(6);
      let k = 0;
      return () => (k < textDraws.length ? textDraws[k++] : rest());
    };
    const second = renderCaptcha(replay());

    expect(second.text).toBe(first.text);
    expect(second.png.equals(first.png)).toBe(false);
    expect(idat(second.png).equals(idat(first.png))).toBe(false);
  });

  it('when called without a generator, then it uses Math.random and still gives a valid captcha', () => {
    const { text, png } = renderCaptcha();

    expect(text).toMatch(new RegExp(`^[${CAPTCHA_CHARSET}]{${CAPTCHA_LENGTH}}$`));
    expect(png.toString('latin1', 1, 4)).toBe('PNG');
  });
});
