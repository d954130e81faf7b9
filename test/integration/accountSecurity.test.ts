// Accounts under attack, over HTTP on a real database, one test (at least) for each thing the shop failed
// to hold when probed as an attacker would: user-name spellings that got a login budget of their own, a
// stranger's failures that locked the owner out, a login cookie copied before logout that still bought,
// production cookies without Secure and no HSTS, an Origin check blind to the scheme, registration that took
// "password", and a blacklist that never filled by itself.
import request from 'supertest';
import { CAPTCHA_TEXT, testDatabases, TestApp, buildTestApp } from '../helpers/buildTestApp';
import { setCookies, useTestApp } from '../helpers/hostile';
import { challengeFromPage, registrationProof, solveProof } from '../helpers/proofOfWork';
import { buy, createSale, waitForOrders } from '../helpers/shoppers';
import { waitUntil } from '../helpers/waitFor';
import type { ProofChallenge } from '../../src/services/ProofOfWork';

type App = Parameters<typeof request>[0];
const JSON_ACCEPT = 'application/json';
const PASSWORD = 'correct horse battery';
/** Addresses as a trusted proxy (TRUST_PROXY=1) reports them; each test's strangers are its own. */
const OWNER = '203.0.113.20';
let strangers = 0;
const stranger = () => `198.51.100.${++strangers}`;

/** A browser at `ip`: its CSRF cookie (whatever its name) and the page's token. */
async function browserAt(app: App, ip = OWNER, sid?: { name: string; value: string }) {
  const page = request(app).get('/user/login').set('X-Forwarded-For', ip);
  if (sid) page.set('Cookie', `${sid.name}=${sid.value}`);
  const res = await page;
  const csrfCookie = setCookies(res).find((c) => /^(__Host-)?csrf=/.test(c))!.split(';')[0];
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(res.text)![1];
  const cookie = sid ? `${sid.name}=${sid.value}; ${csrfCookie}` : csrfCookie;
  return {
    csrf,
    post: (path: string) => request(app).post(path).set('X-Forwarded-For', ip).set('Cookie', cookie).set('X-CSRF-Token', csrf).set('Accept', JSON_ACCEPT),
  };
}

/** One JSON login attempt from `ip`. */
async function logIn(app: App, ip: string, userName: string, password: string, proof?: string) {
  const b = await browserAt(app, ip);
  return b.post('/user/login').send({ userName, password, ...(proof ? { proof } : {}) });
}

/** The login cookie a response set, by name: `sid`, or `__Host-sid` in production. */
function loginCookie(res: request.Response): { name: string; value: string; raw: string } | null {
  const raw = setCookies(res).find((c) => /^(__Host-)?sid=[^;]/.test(c));
  if (!raw) return null;
  const [, name, value] = /^([^=]+)=([^;]*)/.exec(raw)!;
  return { name, value: decodeURIComponent(value), raw };
}

/** 'in' when the cookie opens the shopper's orders, 'out' when it is treated as no login. */
async function ordersWith(app: App, sid: { name: string; value: string }): Promise<'in' | 'out' | number> {
  const res = await request(app).get('/orders').set('Accept', JSON_ACCEPT).set('Cookie', `${sid.name}=${sid.value}`);
  if (res.status === 200) return 'in';
  if (res.status === 401 && res.body.code === 'NOT_LOGGED_IN') return 'out';
  return res.status;
}

describe.each(testDatabases())('accounts under attack on %s', (database) => {
  describe('login limits (addresses through a trusted proxy)', () => {
    const app = useTestApp({ database, env: { TRUST_PROXY: '1' } });
    let serial = 0;
    const account = async () => {
      const userName = `owner${serial++}`;
      await app.t.c.services.accounts.register(userName, 'Owner', PASSWORD);
      return userName;
    };

    it('when 10 wrong passwords were tried for a name, then no spelling of it (spaces, tabs, NBSP, case, full width, 1-16 trailing spaces) gets a budget of its own, even with the right password', async () => {
      const name = await account();
      const STRANGER = stranger();
      const failures = [];
      for (let i = 0; i < 10; i++) failures.push((await logIn(app.t.app, STRANGER, name, `guess ${i}`)).status);
      const variants = [
        `${name} `,
        ` ${name}`,
        `${name}\t`,
        `\u00a0${name}`,
        name.toUpperCase(),
        `\u3000${name}\u200b`,
        [...name].map((ch) => String.fromCodePoint(ch.codePointAt(0)! + 0xfee0)).join(''), // full width
        ...Array.from({ length: 16 }, (_, k) => name + ' '.repeat(k + 1)),
      ];

      const answers = [];
      for (const v of variants) {
        const res = await logIn(app.t.app, STRANGER, v, PASSWORD);
        answers.push([JSON.stringify(v), res.status, res.body.code, loginCookie(res) !== null]);
      }

      expect(failures).toEqual(new Array(10).fill(401));
      expect(answers).toEqual(variants.map((v) => [JSON.stringify(v), 429, 'TOO_MANY_LOGINS', false]));
    });

    it('when a stranger fails 10 times from one address, then the owner logs in from another at once; the stranger\'s address is refused for that account only', async () => {
      const name = await account();
      const other = await account();
      const STRANGER = stranger();
      for (let i = 0; i < 10; i++) await logIn(app.t.app, STRANGER, name, `guess ${i}`);

      const owner = await logIn(app.t.app, OWNER, name, PASSWORD);
      const strangerRight = await logIn(app.t.app, STRANGER, name, PASSWORD);
      const strangerOther = await logIn(app.t.app, STRANGER, other, PASSWORD);

      expect([owner.status, owner.body.ok]).toEqual([200, true]);
      expect(await ordersWith(app.t.app, loginCookie(owner)!)).toBe('in');
      expect([strangerRight.status, strangerRight.body.code]).toEqual([429, 'TOO_MANY_LOGINS']);
      expect(Number(strangerRight.headers['retry-after'])).toBeGreaterThan(0);
      expect(strangerOther.status).toBe(200);
    });

    it('when failures from many addresses pass LOGIN_CHALLENGE_AFTER, then the owner is asked for a proof-of-work, not refused, and logs in with it', async () => {
      const name = await account();
      for (const ip of [stranger(), stranger()]) for (let i = 0; i < 10; i++) await logIn(app.t.app, ip, name, `guess ${ip} ${i}`);

      const asked = await logIn(app.t.app, OWNER, name, PASSWORD);
      const proof = await solveProof(asked.body.challenge as ProofChallenge);
      const owner = await logIn(app.t.app, OWNER, name, PASSWORD, proof);
      const replayed = await logIn(app.t.app, OWNER, name, PASSWORD, proof);

      expect([asked.status, asked.body.code, loginCookie(asked)]).toEqual([401, 'LOGIN_CHALLENGE', null]);
      expect([owner.status, owner.body.ok]).toEqual([200, true]);
      expect(await ordersWith(app.t.app, loginCookie(owner)!)).toBe('in');
      expect([replayed.status, replayed.body.code]).toEqual([400, 'CHALLENGE_INVALID']);
      expect(replayed.body.challenge).toBeDefined();
    });

    it('when the login form of an account under attack is sent by a browser, then it comes back with the challenge for the page to solve', async () => {
      const name = await account();
      for (const ip of [stranger(), stranger()]) for (let i = 0; i < 10; i++) await logIn(app.t.app, ip, name, `guess ${ip} ${i}`);
      const b = await browserAt(app.t.app, OWNER);

      const page = await b.post('/user/login').set('Accept', 'text/html').type('form').send({ _csrf: b.csrf, userName: name, password: PASSWORD });
      const proof = await solveProof(challengeFromPage(page.text));
      const done = await b.post('/user/login').set('Accept', 'text/html').type('form').send({ _csrf: b.csrf, userName: name, password: PASSWORD, proof });

      expect(page.status).toBe(401);
      expect(page.text).toContain('your browser does a short check first');
      expect(page.text).toContain('src="/js/pow.js"');
      expect(done.status).toBe(303);
      expect(loginCookie(done)).not.toBeNull();
    });
  });

  describe('revoking login cookies', () => {
    const app = useTestApp({ database });
    let saleId: number;
    let serial = 0;

    beforeAll(async () => {
      saleId = await createSale(app.t.c, { stock: 50 });
    });

    /** A shopper logged in over HTTP, and a copy of their login cookie. */
    async function loggedIn() {
      const userName = `copied${serial++}`;
      const user = await app.t.c.services.accounts.register(userName, 'Copied', PASSWORD);
      const res = await logIn(app.t.app, OWNER, userName, PASSWORD);
      const sid = loginCookie(res)!;
      return { user, userName, sid, shopper: { id: user.id, userName, cookie: `sid=${sid.value}` } };
    }

    const challenge = (sid: { value: string }) =>
      fetch(`${app.base}/api/sales/${saleId}/challenge`, { method: 'POST', headers: { Cookie: `sid=${sid.value}` } }).then(async (r) => ({ status: r.status, code: ((await r.json()) as { code?: string }).code }));

    it('when a shopper logs out, then a copy of the cookie taken before is refused on /orders and on the purchase route, and buys nothing', async () => {
      const { sid, shopper, user } = await loggedIn();
      expect(await ordersWith(app.t.app, sid)).toBe('in');
      expect((await challenge(sid)).status).toBe(200);
      const b = await browserAt(app.t.app, OWNER, sid);

      const out = await b.post('/user/logout').send({});

      expect(out.status).toBe(200);
      expect(await ordersWith(app.t.app, sid)).toBe('out');
      expect(await challenge(sid)).toEqual({ status: 401, code: 'NOT_LOGGED_IN' });
      expect(await buy(app.base, app.t.c, saleId, shopper)).toMatchObject({ status: 401, code: 'NOT_LOGGED_IN' });
      expect(app.t.c.services.book.inventory.hasBought(saleId, user.id)).toBe(false);
      // Logging in again gives a cookie that works, and buys.
      const again = loginCookie(await logIn(app.t.app, OWNER, shopper.userName, PASSWORD))!;
      expect(await buy(app.base, app.t.c, saleId, { ...shopper, cookie: `sid=${again.value}` })).toMatchObject({ status: 202 });
      await waitForOrders(app.t.c);
    });

    it('when a shopper changes the password, then the copied cookie is refused everywhere and the browser that changed it stays logged in', async () => {
      const { sid, shopper, userName } = await loggedIn();
      const b = await browserAt(app.t.app, OWNER, sid);

      const wrong = await b.post('/user/password').send({ currentPassword: 'not it', newPassword: 'a brand new secret' });
      const changed = await b.post('/user/password').send({ currentPassword: PASSWORD, newPassword: 'a brand new secret' });
      const fresh = loginCookie(changed)!;

      expect([wrong.status, wrong.body.fields]).toEqual([400, { currentPassword: 'is not right' }]);
      expect(changed.status).toBe(200);
      expect(await ordersWith(app.t.app, sid)).toBe('out');
      expect(await buy(app.base, app.t.c, saleId, shopper)).toMatchObject({ status: 401, code: 'NOT_LOGGED_IN' });
      expect(await ordersWith(app.t.app, fresh)).toBe('in');
      expect((await logIn(app.t.app, OWNER, userName, PASSWORD)).status).toBe(401);
      expect((await logIn(app.t.app, OWNER, userName, 'a brand new secret')).status).toBe(200);
    });

    it('when a shopper deletes the account, then the copied cookie is refused everywhere, the password no longer logs in and the name is free', async () => {
      const { sid, shopper, userName } = await loggedIn();
      const b = await browserAt(app.t.app, OWNER, sid);

      const refused = await b.post('/user/delete').send({ password: 'not it' });
      const deleted = await b.post('/user/delete').send({ password: PASSWORD });

      expect(refused.status).toBe(400);
      expect(deleted.status).toBe(200);
      expect(await ordersWith(app.t.app, sid)).toBe('out');
      expect(await challenge(sid)).toEqual({ status: 401, code: 'NOT_LOGGED_IN' });
      expect(await buy(app.base, app.t.c, saleId, shopper)).toMatchObject({ status: 401, code: 'NOT_LOGGED_IN' });
      expect((await logIn(app.t.app, OWNER, userName, PASSWORD)).status).toBe(401);
      expect(await app.t.c.services.accounts.register(userName, 'Someone else', PASSWORD)).toMatchObject({ userName });
    });

    it('when an admin blocks a shopper, then the copied cookie is refused everywhere; logged in again, the shopper is told BLOCKED', async () => {
      const { sid, shopper, userName } = await loggedIn();
      const boss = await app.t.c.services.accounts.register(`boss${serial++}`, 'Boss', PASSWORD, 'admin');
      const admin = await browserAt(app.t.app, OWNER, { name: 'sid', value: app.t.c.services.accounts.issueSession(boss.id) });

      const blocked = await admin.post('/admin/blacklist').send({ user: userName, reason: 'account taken over' });
      const again = loginCookie(await logIn(app.t.app, OWNER, userName, PASSWORD))!;

      expect(blocked.status).toBe(201);
      expect(await ordersWith(app.t.app, sid)).toBe('out');
      expect(await buy(app.base, app.t.c, saleId, shopper)).toMatchObject({ status: 401, code: 'NOT_LOGGED_IN' });
      expect(await ordersWith(app.t.app, again)).toBe('in');
      expect(await buy(app.base, app.t.c, saleId, { ...shopper, cookie: `sid=${again.value}` })).toMatchObject({ status: 403, code: 'BLOCKED' });
    });
  });

  describe('revoked cookies across a restart', () => {
    let first: TestApp | undefined;
    let second: TestApp | undefined;

    afterAll(async () => {
      await (second ?? first)?.close();
    });

    it('when the shop restarts after a logout, then the copied cookie stays refused and other logins still work', async () => {
      first = await buildTestApp({ database });
      await first.c.services.accounts.register('leaver', 'Leaver', PASSWORD);
      await first.c.services.accounts.register('stayer', 'Stayer', PASSWORD);
      const leaver = loginCookie(await logIn(first.app, OWNER, 'leaver', PASSWORD))!;
      const stayer = loginCookie(await logIn(first.app, OWNER, 'stayer', PASSWORD))!;
      await (await browserAt(first.app, OWNER, leaver)).post('/user/logout').send({}).expect(200);

      await first.stop();
      second = await buildTestApp({ database, reuse: first });

      expect(await ordersWith(second.app, leaver)).toBe('out');
      expect(await ordersWith(second.app, stayer)).toBe('in');
    });
  });

  describe('production defaults', () => {
    const prod = { NODE_ENV: 'production', REHEARSAL_REQUESTS: '0' };
    const app = useTestApp({ database, env: prod });

    it('when a shopper logs in in production, then the cookie is __Host-sid, Secure, HttpOnly, SameSite=Lax, for the whole site, with no Domain; the CSRF cookie is __Host- too', async () => {
      await app.t.c.services.accounts.register('prod_shopper', 'Prod', PASSWORD);
      const page = await request(app.t.app).get('/user/login');

      const res = await (await browserAt(app.t.app)).post('/user/login').set('Origin', 'https://shop.test').set('Host', 'shop.test').send({ userName: 'prod_shopper', password: PASSWORD });
      const sid = loginCookie(res)!;
      const attributes = sid.raw.split(';').map((a) => a.trim().toLowerCase());

      expect(res.status).toBe(200);
      expect(sid.name).toBe('__Host-sid');
      expect(attributes).toEqual(expect.arrayContaining(['secure', 'httponly', 'samesite=lax', 'path=/']));
      expect(attributes.some((a) => a.startsWith('domain='))).toBe(false);
      expect(setCookies(page).find((c) => c.startsWith('__Host-csrf='))).toMatch(/; Secure/i);
    });

    it('when a page is served in production, then it carries Strict-Transport-Security for a year', async () => {
      const res = await request(app.t.app).get('/');

      expect(res.headers['strict-transport-security']).toMatch(/^max-age=31536000\b/);
    });

    it('when a post comes from http:// or another port of the same host in production, then 403 CROSS_SITE, on the forms and on the purchase route; from https:// it passes', async () => {
      const saleId = await createSale(app.t.c, { stock: 5 });
      const user = await app.t.c.services.accounts.register('origin_shopper', 'Origin', PASSWORD);
      const sid = `__Host-sid=${app.t.c.services.accounts.issueSession(user.id)}`;
      const form = async (origin: string) =>
        (await (await browserAt(app.t.app)).post('/user/login').set('Host', 'shop.test').set('Origin', origin).send({ userName: 'origin_shopper', password: PASSWORD })).status;
      const purchase = async (origin: string) =>
        (await request(app.t.app).post(`/api/sales/${saleId}/challenge`).set('Host', 'shop.test').set('Origin', origin).set('Cookie', sid)).status;

      expect(await form('http://shop.test')).toBe(403);
      expect(await form('https://shop.test:8443')).toBe(403);
      expect(await form('https://evil.test')).toBe(403);
      expect(await form('https://shop.test')).toBe(200);
      expect(await purchase('http://shop.test')).toBe(403);
      expect(await purchase('https://shop.test:8443')).toBe(403);
      expect(await purchase('https://shop.test')).toBe(200);
    });

    it('when the login cookie comes without its __Host- prefix in production, then it logs nobody in', async () => {
      const user = await app.t.c.services.accounts.register('prefix_shopper', 'Prefix', PASSWORD);
      const value = app.t.c.services.accounts.issueSession(user.id);

      expect(await ordersWith(app.t.app, { name: 'sid', value })).toBe('out');
      expect(await ordersWith(app.t.app, { name: '__Host-sid', value })).toBe('in');
    });

    describe('with COOKIE_SECURE=false and HSTS_MAX_AGE=600', () => {
      const plain = useTestApp({ database, env: { ...prod, COOKIE_SECURE: 'false', HSTS_MAX_AGE: '600' } });

      it('when a shopper logs in, then the cookie is plain sid without Secure, and HSTS has the configured max-age', async () => {
        await plain.t.c.services.accounts.register('plain_shopper', 'Plain', PASSWORD);

        const res = await logIn(plain.t.app, OWNER, 'plain_shopper', PASSWORD);
        const sid = loginCookie(res)!;

        expect(sid.name).toBe('sid');
        expect(sid.raw).not.toMatch(/secure/i);
        expect(res.headers['strict-transport-security']).toMatch(/^max-age=600\b/);
      });
    });
  });

  describe('outside production', () => {
    const app = useTestApp({ database });

    it('when a page is served in development or test, then no Strict-Transport-Security pins https on a local shop', async () => {
      expect((await request(app.t.app).get('/')).headers['strict-transport-security']).toBeUndefined();
    });
  });

  describe('registration', () => {
    const app = useTestApp({ database });
    const register = async (body: Record<string, string>, html = false) => {
      const b = await browserAt(app.t.app);
      const req = b.post('/user/register');
      if (html) req.set('Accept', 'text/html').type('form');
      return req.send({ nickName: 'Nick', proof: await registrationProof(app.t.app), ...(html ? { _csrf: b.csrf } : {}), ...body });
    };

    it.each([
      ['password', 'is one of the most common passwords, the first ones attackers try; choose another'],
      ['PASSWORD', 'is one of the most common passwords, the first ones attackers try; choose another'],
      ['12345678', 'is one of the most common passwords, the first ones attackers try; choose another'],
      ['        ', 'must not be blank (only spaces)'],
      [' \t  \u00a0   ', 'must not be blank (only spaces)'],
      ['farmer_joe', 'must not be your user name'],
    ])('when the password is %j, then 400 says why next to the field and no account is made', async (password, message) => {
      const json = await register({ userName: 'farmer_joe', password });
      const html = await register({ userName: 'farmer_joe', password }, true);

      expect([json.status, json.body.code, json.body.fields]).toEqual([400, 'INVALID_INPUT', { password: message }]);
      expect(html.status).toBe(400);
      expect(html.text).toContain(`<p class="field-error" id="password-error">Password ${message}</p>`);
      expect(await app.t.c.services.accounts.findByUserName('farmer_joe')).toBeNull();
    });

    it('when the form comes without a solved challenge, then 400 CHALLENGE_REQUIRED with one to solve; solved it registers, and the same proof twice is refused', async () => {
      const b = await browserAt(app.t.app);
      const body = { userName: 'careful_carl', nickName: 'Carl', password: PASSWORD };

      const bare = await b.post('/user/register').send(body);
      const proof = await solveProof(bare.body.challenge as ProofChallenge);
      const done = await b.post('/user/register').send({ ...body, proof });
      const again = await b.post('/user/register').send({ ...body, userName: 'careful_cora', proof });

      expect([bare.status, bare.body.code]).toEqual([400, 'CHALLENGE_REQUIRED']);
      expect(done.status).toBe(201);
      expect([again.status, again.body.code]).toEqual([400, 'CHALLENGE_INVALID']);
      expect(await app.t.c.services.accounts.findByUserName('careful_cora')).toBeNull();
    });

    it('when the registration page is opened, then it carries a challenge and the script that solves it', async () => {
      const page = await request(app.t.app).get('/user/register');
      const solver = await request(app.t.app).get('/vendor/altcha/pow.js');
      const other = await request(app.t.app).get('/vendor/altcha/index.js');

      expect(challengeFromPage(page.text).parameters.algorithm).toBe('SHA-256');
      expect(page.text).toContain('<script type="module" src="/js/pow.js"></script>');
      expect([solver.status, solver.headers['content-type']]).toEqual([200, expect.stringMatching(/javascript/)]);
      expect(other.status).toBe(404);
    });
  });

  describe('the automatic blacklist', () => {
    const app = useTestApp({ database, env: { USER_INTERVAL_MS: '10000', ABUSE_CAPTCHA_WRONG: '3', ABUSE_TOO_FAST: '3', ABUSE_BLOCK_MINUTES: '30' } });
    let saleId: number;
    let admin: Awaited<ReturnType<typeof browserAt>>;

    beforeAll(async () => {
      saleId = await createSale(app.t.c, { stock: 10 });
      const boss = await app.t.c.services.accounts.register('auto_boss', 'Boss', PASSWORD, 'admin');
      admin = await browserAt(app.t.app, OWNER, { name: 'sid', value: app.t.c.services.accounts.issueSession(boss.id) });
    });

    async function shopper(name: string) {
      const user = await app.t.c.services.accounts.register(name, name, PASSWORD);
      return { id: user.id, userName: name, cookie: `sid=${app.t.c.services.accounts.issueSession(user.id)}` };
    }

    async function captchaId(cookie: string): Promise<string> {
      const res = await fetch(`${app.base}/api/sales/${saleId}/challenge`, { method: 'POST', headers: { Cookie: cookie } });
      return ((await res.json()) as { captchaId: string }).captchaId;
    }

    async function entryFor(userId: number) {
      const res = await request(app.t.app).get('/admin/blacklist').set('Accept', JSON_ACCEPT).set('Cookie', (await adminCookie()));
      return (res.body.entries as { id: number; userId: number | null; reason: string; until: string | null }[]).find((e) => e.userId === userId);
    }
    const adminCookie = async () => `sid=${app.t.c.services.accounts.issueSession((await app.t.c.services.accounts.findByUserName('auto_boss'))!.id)}`;

    it('when a shopper sends N wrong captcha answers, then the shopper is blacklisted by itself, with reason and end, refused with BLOCKED, and the admin can lift it', async () => {
      const s = await shopper('guessing_bot');
      const id = await captchaId(s.cookie);
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await buy(app.base, app.t.c, saleId, s, { ticket: '', headers: { 'X-Captcha': `${id}.wrong${i}` } })).code);
      const t0 = Date.now();

      const next = await buy(app.base, app.t.c, saleId, s);
      await waitUntil('the automatic entry stored', async () => (await entryFor(s.id)) !== undefined);
      const entry = (await entryFor(s.id))!;
      const page = await request(app.t.app).get('/admin/blacklist').set('Cookie', await adminCookie());

      expect(answers).toEqual(['CAPTCHA_WRONG', 'CAPTCHA_WRONG', 'CAPTCHA_WRONG']);
      expect(next).toMatchObject({ status: 403, code: 'BLOCKED' });
      expect(entry.reason).toBe('Automatic: 3 wrong captcha answers within 60 s');
      expect(new Date(entry.until!).getTime()).toBeGreaterThan(t0 + 29 * 60_000);
      expect(new Date(entry.until!).getTime()).toBeLessThanOrEqual(t0 + 30 * 60_000);
      expect(page.text).toContain('Automatic: 3 wrong captcha answers within 60 s');

      await admin.post(`/admin/blacklist/${entry.id}/delete`).send({}).expect(200);
      const lifted = await buy(app.base, app.t.c, saleId, s, { ticket: '', headers: { 'X-Captcha': `${await captchaId(s.cookie)}.${CAPTCHA_TEXT}` } });
      expect(lifted).toMatchObject({ status: 202 });
      await waitForOrders(app.t.c);
    });

    it('when the wrong answers go to the older ticket route, then they count the same', async () => {
      const s = await shopper('ticket_bot');
      const b = await browserAt(app.t.app, OWNER, { name: 'sid', value: s.cookie.slice('sid='.length) });
      const { captchaId: id } = (await b.post(`/api/sales/${saleId}/captcha`).send({})).body as { captchaId: string };
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await b.post(`/api/sales/${saleId}/ticket`).send({ captchaId: id, answer: `wrong${i}` })).body.code);

      const next = await buy(app.base, app.t.c, saleId, s);

      expect(answers).toEqual(['CAPTCHA_WRONG', 'CAPTCHA_WRONG', 'CAPTCHA_WRONG']);
      expect(next).toMatchObject({ status: 403, code: 'BLOCKED' });
      await waitUntil('the automatic entry stored', async () => (await entryFor(s.id)) !== undefined);
    });

    it('when a shopper collects M TOO_FAST refusals within the window, then the shopper is blacklisted by itself and refused with BLOCKED', async () => {
      const s = await shopper('hammering_bot');
      const first = await buy(app.base, app.t.c, saleId, s, { path: 'AAAAAAAAAAAAAAAA' }); // takes the interval
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await buy(app.base, app.t.c, saleId, s)).code);

      const next = await buy(app.base, app.t.c, saleId, s);
      await waitUntil('the automatic entry stored', async () => (await entryFor(s.id)) !== undefined);

      expect(first.code).toBe('PATH_INVALID');
      expect(answers).toEqual(['TOO_FAST', 'TOO_FAST', 'TOO_FAST']);
      expect(next).toMatchObject({ status: 403, code: 'BLOCKED' });
      expect((await entryFor(s.id))!.reason).toBe('Automatic: 3 purchase tries refused as too fast within 60 s');
    });
  });
});
