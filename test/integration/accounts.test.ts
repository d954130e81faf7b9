// Accounts over HTTP on a real database: register, log in and out, the login cookie, CSRF and login throttling.
import request from 'supertest';
import { CookieCipher } from '../../src/lib/CookieCipher';
import { buildTestApp, testDatabases, TestApp } from '../helpers/buildTestApp';
import { registrationProof } from '../helpers/proofOfWork';

type Agent = ReturnType<typeof request.agent>;
type App = Parameters<typeof request>[0];

const PASSWORD = 'correct horse battery';
const JSON_ACCEPT = 'application/json';

function csrfFrom(html: string): string {
  const m = /<meta name="csrf-token" content="([^"]+)">/.exec(html) ?? /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1];
}

/** A browser that has opened a form page, so it holds the CSRF cookie and a token for it. */
async function browser(app: App, page = '/user/login'): Promise<{ agent: Agent; csrf: string }> {
  const agent = request.agent(app);
  const res = await agent.get(page).expect(200);
  return { agent, csrf: csrfFrom(res.text) };
}

function setCookie(res: request.Response, name: string): string | undefined {
  const all = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return all.find((c) => c.startsWith(`${name}=`));
}

function sidOf(res: request.Response): string {
  const cookie = setCookie(res, 'sid');
  if (!cookie) throw new Error('no login cookie was set');
  return decodeURIComponent(/^sid=([^;]*)/.exec(cookie)![1]);
}

/** 'in' when the cookie logs someone in, 'out' when the app treats the request as logged out. */
async function sessionState(app: App, sid: string): Promise<'in' | 'out' | number> {
  const res = await request(app).get('/orders').set('Accept', JSON_ACCEPT).set('Cookie', `sid=${sid}`);
  if (res.status === 200) return 'in';
  if (res.status === 401 && res.body.code === 'NOT_LOGGED_IN') return 'out';
  return res.status;
}

describe.each(testDatabases())('accounts on %s', (database) => {
  let t: TestApp;

  beforeEach(async () => {
    t = await buildTestApp({ database });
  });

  afterEach(async () => {
    await t?.close();
  });

  const logIn = (b: { agent: Agent; csrf: string }, userName: string, password = PASSWORD) =>
    b.agent.post('/user/login').type('form').send({ _csrf: b.csrf, userName, password });

  describe('register', () => {
    it('when a visitor registers with valid details, then 303 home and they are logged in as a shopper', async () => {
      const b = await browser(t.app, '/user/register');

      const res = await b.agent
        .post('/user/register')
        .type('form')
        .send({ _csrf: b.csrf, userName: 'alice', nickName: 'Alice', password: PASSWORD, proof: await registrationProof(t.app) });

      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/');
      const orders = await b.agent.get('/orders');
      expect(orders.status).toBe(200);
      expect(orders.text).toContain('Hi, Alice');
      expect(await t.c.services.accounts.authenticate('alice', PASSWORD)).toMatchObject({ userName: 'alice', role: 'shopper' });
    });

    it('when a JSON client registers, then 201 with the public user and no password hash', async () => {
      const b = await browser(t.app, '/user/register');

      const res = await b.agent
        .post('/user/register')
        .set('Accept', JSON_ACCEPT)
        .set('X-CSRF-Token', b.csrf)
        .send({ userName: 'bob', nickName: 'Bob', password: PASSWORD, proof: await registrationProof(t.app) });

      expect(res.status).toBe(201);
      expect(res.body).toEqual({ ok: true, user: { id: expect.any(Number), userName: 'bob', nickName: 'Bob', role: 'shopper' } });
      expect(JSON.stringify(res.body)).not.toMatch(/scrypt|hash|password/i);
      expect(setCookie(res, 'sid')).toBeDefined();
    });

    it('when the user name is taken, then 409 says so next to the field (HTML) and as USER_NAME_TAKEN (JSON)', async () => {
      await t.c.services.accounts.register('carol', 'Carol', PASSWORD);
      const b = await browser(t.app, '/user/register');

      const html = await b.agent
        .post('/user/register')
        .type('form')
        .send({ _csrf: b.csrf, userName: 'carol', nickName: 'Other', password: PASSWORD, proof: await registrationProof(t.app) });
      const json = await b.agent
        .post('/user/register')
        .set('Accept', JSON_ACCEPT)
        .set('X-CSRF-Token', b.csrf)
        .send({ userName: 'carol', nickName: 'Other', password: PASSWORD, proof: await registrationProof(t.app) });

      expect(html.status).toBe(409);
      expect(html.text).toMatch(/<p class="field-error" id="userName-error">User name is taken<\/p>/);
      expect(setCookie(html, 'sid')).toBeUndefined();
      expect(json.status).toBe(409);
      expect(json.body).toMatchObject({ ok: false, code: 'USER_NAME_TAKEN', fields: { userName: 'is taken' } });
    });

    it('when the form is invalid, then 400 shows each error next to its field and does not echo the password', async () => {
      const b = await browser(t.app, '/user/register');

      const res = await b.agent.post('/user/register').type('form').send({ _csrf: b.csrf, userName: 'a!', nickName: 'Nick', password: 'short' });

      expect(res.status).toBe(400);
      expect(res.text).toMatch(/<p class="field-error" id="userName-error">User name must be at least 3 characters<\/p>/);
      expect(res.text).toMatch(/<p class="field-error" id="password-error">Password must be at least 8 characters<\/p>/);
      expect(res.text).not.toMatch(/id="nickName-error"/);
      expect(res.text).toMatch(/name="userName" type="text"\s+value="a!"/);
      expect(res.text).not.toContain('value="short"');
    });

    it('when a JSON client sends an invalid registration, then 400 INVALID_INPUT names every bad field', async () => {
      const b = await browser(t.app, '/user/register');

      const res = await b.agent
        .post('/user/register')
        .set('Accept', JSON_ACCEPT)
        .set('X-CSRF-Token', b.csrf)
        .send({ userName: 'has space', password: 'x' });

      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ ok: false, code: 'INVALID_INPUT', message: expect.stringMatching(/^userName: /) });
      expect(Object.keys(res.body.fields).sort()).toEqual(['nickName', 'password', 'userName']);
      expect(await t.c.services.accounts.authenticate('has space', 'x')).toBeNull();
    });
  });

  describe('log in and out', () => {
    beforeEach(async () => {
      await t.c.services.accounts.register('dave', 'Dave', PASSWORD);
    });

    it('when a shopper logs in with the right password, then 303 home and the cookie logs them in', async () => {
      const b = await browser(t.app);

      const res = await logIn(b, 'dave');

      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/');
      expect(await sessionState(t.app, sidOf(res))).toBe('in');
    });

    it('when the login form carries a same-site next path, then it redirects there, and never to another site', async () => {
      const b = await browser(t.app);

      const local = await b.agent.post('/user/login').type('form').send({ _csrf: b.csrf, userName: 'dave', password: PASSWORD, next: '/orders' });
      const foreign = await b.agent.post('/user/login').type('form').send({ _csrf: b.csrf, userName: 'dave', password: PASSWORD, next: '//evil.example/x' });

      expect(local.headers.location).toBe('/orders');
      expect(foreign.headers.location).toBe('/');
    });

    it('when the password is wrong, then 401 and no cookie; an unknown user gets the very same answer', async () => {
      const b = await browser(t.app);

      const html = await logIn(b, 'dave', 'wrong password');
      const json = await b.agent.post('/user/login').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', b.csrf).send({ userName: 'dave', password: 'wrong password' });
      const unknown = await b.agent.post('/user/login').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', b.csrf).send({ userName: 'nobody', password: 'wrong password' });

      expect(html.status).toBe(401);
      expect(html.text).toContain('Wrong user name or password.');
      expect(setCookie(html, 'sid')).toBeUndefined();
      expect(json.status).toBe(401);
      expect(json.body).toEqual({ ok: false, code: 'BAD_CREDENTIALS', message: 'Wrong user name or password.' });
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual(json.body);
    });

    it('when the login form is empty, then 400 names the fields (HTML and JSON)', async () => {
      const b = await browser(t.app);

      const html = await b.agent.post('/user/login').type('form').send({ _csrf: b.csrf, userName: '', password: '' });
      const json = await b.agent.post('/user/login').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', b.csrf).send({});

      expect(html.status).toBe(400);
      expect(html.text).toMatch(/id="userName-error">User name is required/);
      expect(html.text).toMatch(/id="password-error">Password is required/);
      expect(json.status).toBe(400);
      expect(json.body).toMatchObject({ code: 'INVALID_INPUT', fields: { userName: 'is required', password: 'is required' } });
    });

    it('when a shopper logs out, then the cookie is cleared and they are logged out', async () => {
      const b = await browser(t.app);
      await logIn(b, 'dave').expect(303);
      await b.agent.get('/orders').expect(200);

      const res = await b.agent.post('/user/logout').type('form').send({ _csrf: b.csrf });

      expect(res.status).toBe(303);
      expect(setCookie(res, 'sid')).toMatch(/^sid=;.*Expires=Thu, 01 Jan 1970/);
      const after = await b.agent.get('/orders').set('Accept', JSON_ACCEPT);
      expect(after.status).toBe(401);
      expect(after.body.code).toBe('NOT_LOGGED_IN');
    });
  });

  describe('login throttling', () => {
    it('when one user name gets more than 10 login attempts, then the next is 429 even with the right password, while others still log in', async () => {
      await t.c.services.accounts.register('erin', 'Erin', PASSWORD);
      await t.c.services.accounts.register('frank', 'Frank', PASSWORD);
      const b = await browser(t.app);
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await logIn(b, 'erin', `guess ${i}`)).status);

      const blocked = await b.agent.post('/user/login').set('Accept', JSON_ACCEPT).set('X-CSRF-Token', b.csrf).send({ userName: 'erin', password: PASSWORD });
      const otherCase = await logIn(b, 'ERIN', PASSWORD);
      const other = await logIn(b, 'frank');

      expect(statuses).toEqual(new Array(10).fill(401));
      expect(blocked.status).toBe(429);
      expect(blocked.body).toMatchObject({ ok: false, code: 'TOO_MANY_LOGINS' });
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect(setCookie(blocked, 'sid')).toBeUndefined();
      expect(otherCase.status).toBe(429);
      expect(other.status).toBe(303);
    });
  });

  describe('CSRF and origin', () => {
    const body = { userName: 'gina', nickName: 'Gina', password: PASSWORD };

    it('when a form is posted without a CSRF token, then 403 and nothing happens', async () => {
      const b = await browser(t.app, '/user/register');

      const html = await b.agent.post('/user/register').type('form').send(body);
      const json = await b.agent.post('/user/register').set('Accept', JSON_ACCEPT).send(body);

      expect(html.status).toBe(403);
      expect(html.text).toContain('data-code="CSRF"');
      expect(json.status).toBe(403);
      expect(json.body).toMatchObject({ ok: false, code: 'CSRF' });
      expect(await t.c.services.accounts.authenticate('gina', PASSWORD)).toBeNull();
    });

    it('when a form is posted with a wrong or foreign CSRF token, then 403 and nothing happens', async () => {
      const b = await browser(t.app, '/user/register');
      const other = await browser(t.app, '/user/register');

      const wrong = await b.agent.post('/user/register').set('Accept', JSON_ACCEPT).send({ ...body, _csrf: `${b.csrf.slice(0, -2)}xx` });
      const foreign = await b.agent.post('/user/register').set('Accept', JSON_ACCEPT).send({ ...body, _csrf: other.csrf });
      const noCookie = await request(t.app).post('/user/register').set('Accept', JSON_ACCEPT).send({ ...body, _csrf: b.csrf });

      for (const res of [wrong, foreign, noCookie]) {
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('CSRF');
      }
      expect(await t.c.services.accounts.authenticate('gina', PASSWORD)).toBeNull();
    });

    it('when a post comes from another site with a valid token, then 403 CROSS_SITE; from this site it passes', async () => {
      const b = await browser(t.app, '/user/register');

      const cross = await b.agent.post('/user/register').set('Accept', JSON_ACCEPT).set('Origin', 'https://evil.example').send({ ...body, _csrf: b.csrf });
      const junk = await b.agent.post('/user/register').set('Accept', JSON_ACCEPT).set('Origin', 'null').send({ ...body, _csrf: b.csrf });
      const same = await b.agent
        .post('/user/register')
        .set('Accept', JSON_ACCEPT)
        .set('Host', 'shop.test')
        .set('Origin', 'http://shop.test')
        .send({ ...body, _csrf: b.csrf, proof: await registrationProof(t.app) });

      expect(cross.status).toBe(403);
      expect(cross.body.code).toBe('CROSS_SITE');
      expect(junk.status).toBe(403);
      expect(same.status).toBe(201);
    });
  });

  describe('the login cookie', () => {
    let userId: number;
    let sid: string;
    let raw: string;

    beforeEach(async () => {
      userId = (await t.c.services.accounts.register('hank_the_shopper', 'Hank', PASSWORD)).id;
      const res = await logIn(await browser(t.app), 'hank_the_shopper');
      raw = setCookie(res, 'sid')!;
      sid = sidOf(res);
    });

    it('when a shopper logs in, then the cookie is HttpOnly, SameSite=Lax, for the whole site, and expires', () => {
      const attributes = raw.split(';').map((a) => a.trim().toLowerCase());

      expect(attributes).toContain('httponly');
      expect(attributes).toContain('samesite=lax');
      expect(attributes).toContain('path=/');
      expect(attributes.some((a) => /^max-age=\d+$/.test(a))).toBe(true);
    });

    it('when the cookie is read, then it does not reveal the user id or the user name', () => {
      const decoded = Buffer.from(sid, 'base64url');
      const idBytes = Buffer.alloc(4);
      idBytes.writeUInt32BE(userId);

      expect(sid).toMatch(/^[\w-]{40,}$/);
      expect(sid.toLowerCase()).not.toContain('hank');
      expect(decoded.toString('latin1').toLowerCase()).not.toContain('hank');
      expect(decoded.includes(idBytes)).toBe(false);
      expect(sid).not.toMatch(/^(ey|[0-9]+$)/); // neither JSON/JWT-like nor a bare id
    });

    it('when the same shopper logs in twice, then the two cookies differ', async () => {
      const again = sidOf(await logIn(await browser(t.app), 'hank_the_shopper'));

      expect(again).not.toBe(sid);
      expect(await sessionState(t.app, again)).toBe('in');
    });

    it('when any single character of the cookie is changed, then the visitor is logged out, never a 500', async () => {
      const states = new Set<string | number>();

      for (let i = 0; i < sid.length; i++) {
        const swapped = sid[i] === 'A' ? 'B' : 'A';
        states.add(await sessionState(t.app, sid.slice(0, i) + swapped + sid.slice(i + 1)));
      }

      expect(await sessionState(t.app, sid)).toBe('in');
      expect([...states]).toEqual(['out']);
    });

    it('when the cookie is truncated, extended, emptied or garbage, then the visitor is logged out and pages still work', async () => {
      const variants = [sid.slice(0, -1), sid.slice(1), `${sid}A`, `${sid}${sid}`, '', 'garbage', '%E0%A4%A', 'j:{"userId":1}', 's:1.abc'];

      const states = [];
      for (const v of variants) states.push(await sessionState(t.app, encodeURIComponent(v)));
      const home = await request(t.app).get('/').set('Cookie', `sid=${encodeURIComponent('%E0%A4%A')}`);

      expect(states).toEqual(variants.map(() => 'out'));
      expect(home.status).toBe(200);
      expect(home.text).toContain('href="/user/login"');
    });

    it('when a cookie is sealed with another key, has expired, or names no user, then the visitor is logged out', async () => {
      const now = Date.now();
      const ours = new CookieCipher(t.c.config.cookieKeys);
      const foreignKey = new CookieCipher([Buffer.alloc(16, 0x5a)]).seal({ userId, issuedAt: now, expiresAt: now + 3600_000 });
      const expired = ours.seal({ userId, issuedAt: now - 7200_000, expiresAt: now - 1 });
      const ghost = ours.seal({ userId: 999_999, issuedAt: now, expiresAt: now + 3600_000 });
      const control = ours.seal({ userId, issuedAt: now, expiresAt: now + 3600_000 });

      expect(await sessionState(t.app, foreignKey)).toBe('out');
      expect(await sessionState(t.app, expired)).toBe('out');
      expect(await sessionState(t.app, ghost)).toBe('out');
      expect(await sessionState(t.app, control)).toBe('in');
    });
  });
});
