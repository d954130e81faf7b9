// In development without COOKIE_KEYS the shop makes one key and keeps it beside its SQLite file, so that a
// restart of `npm start` keeps every shopper logged in. SQLite only: the feature is for the embedded database.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/app';
import { keepDevelopmentKey } from '../../src/config/developmentKey';
import { loadConfig } from '../../src/config/loadConfig';
import { buildContainer } from '../../src/container';
import { fixedCaptcha } from '../helpers/buildTestApp';

describe('the development key', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'flash-sale-devkey-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const devEnv = () => ({ NODE_ENV: 'development', DATABASE_URL: `sqlite:${path.join(dir, 'shop.sqlite')}`, DEMO: 'false', LOG_LEVEL: 'silent', CAPTCHA_POOL_SIZE: '4' });

  /** One start of the shop as `npm start` makes it (keepDevelopmentKey, then the container). */
  async function start() {
    const config = keepDevelopmentKey(loadConfig(devEnv()));
    const c = buildContainer(config, { captchaGenerator: fixedCaptcha });
    await c.start();
    return { c, app: createApp(c), config };
  }

  it('when the shop restarts in development without COOKIE_KEYS, then a login from before the restart still works', async () => {
    const first = await start();
    const user = await first.c.services.accounts.register('dev_shopper', 'Dev', 'correct horse battery');
    const sid = first.c.services.accounts.issueSession(user.id);
    await first.c.stop();

    const second = await start();
    const orders = await request(second.app).get('/orders').set('Accept', 'application/json').set('Cookie', `sid=${sid}`);
    await second.c.stop();

    expect(orders.status).toBe(200);
    expect(first.config.cookieKeyFile).toBe(path.join(dir, 'shop.sqlite.cookie-key'));
    expect(second.config.cookieKeys).toEqual(first.config.cookieKeys);
    expect(statSync(first.config.cookieKeyFile!).mode & 0o777).toBe(0o600);
  });

  it('when the database folder does not exist yet (a fresh checkout), then it is made and the key kept there', () => {
    const config = keepDevelopmentKey(loadConfig({ ...devEnv(), DATABASE_URL: `sqlite:${path.join(dir, 'data', 'flash-sale.sqlite')}` }));

    expect(config.cookieKeyFile).toBe(path.join(dir, 'data', 'flash-sale.sqlite.cookie-key'));
    expect(statSync(config.cookieKeyFile!).isFile()).toBe(true);
  });

  it('when COOKIE_KEYS is set, or the shop is not a development SQLite shop, then no key file is made or read', () => {
    const withKeys = keepDevelopmentKey(loadConfig({ ...devEnv(), COOKIE_KEYS: Buffer.alloc(16, 1).toString('base64') }));
    const inTest = keepDevelopmentKey(loadConfig({ ...devEnv(), NODE_ENV: 'test' }));
    const onMysql = keepDevelopmentKey(loadConfig({ ...devEnv(), DATABASE_URL: 'mysql://root@127.0.0.1:3306/x' }));

    expect([withKeys.cookieKeyFile, inTest.cookieKeyFile, onMysql.cookieKeyFile]).toEqual([null, null, null]);
    expect(inTest.cookieKeysGenerated).toBe(true);
  });
});
