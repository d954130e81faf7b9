// The balancer's `shard` cookie over HTTP: set at login, the same on every device, kept on later pages, cleared at logout.
import request from 'supertest';
import { shardKey } from '../../src/lib/shard';
import { buildTestApp, testDatabases, TestApp } from '../helpers/buildTestApp';

type Agent = ReturnType<typeof request.agent>;
type App = Parameters<typeof request>[0];

const PASSWORD = 'correct horse battery';

function csrfFrom(html: string): string {
  const m = /<meta name="csrf-token" content="([^"]+)">/.exec(html) ?? /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1];
}

async function browser(app: App): Promise<{ agent: Agent; csrf: string }> {
  const agent = request.agent(app);
  const res = await agent.get('/user/login').expect(200);
  return { agent, csrf: csrfFrom(res.text) };
}

function setCookies(res: request.Response, name: string): string[] {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []).filter((c) => c.startsWith(`${name}=`));
}

function shardOf(res: request.Response): string {
  const [cookie] = setCookies(res, 'shard');
  if (!cookie) throw new Error('no shard cookie was set');
  return /^shard=([^;]*)/.exec(cookie)![1];
}

describe.each(testDatabases())('the shard cookie on %s', (database) => {
  let t: TestApp;
  let userId: number;

  beforeEach(async () => {
    t = await buildTestApp({ database });
    userId = (await t.c.services.accounts.register('dave', 'Dave', PASSWORD)).id;
  });

  afterEach(async () => {
    await t?.close();
  });

  const logIn = (b: { agent: Agent; csrf: string }) =>
    b.agent.post('/user/login').type('form').send({ _csrf: b.csrf, userName: 'dave', password: PASSWORD });

  it('when a shopper logs in, then `shard` is their key: HttpOnly, SameSite=Lax, with the login cookie\'s lifetime', async () => {
    const res = await logIn(await browser(t.app)).expect(303);

    const [shard] = setCookies(res, 'shard');
    const [sid] = setCookies(res, 'sid');
    expect(shardOf(res)).toBe(shardKey(t.c.config.cookieKeys[0], userId));
    expect(shard).toMatch(/; HttpOnly/);
    expect(shard).toMatch(/; SameSite=Lax/);
    expect(shard).toMatch(/; Path=\//);
    expect(shard).not.toMatch(/; Secure/);
    expect(/Max-Age=(\d+)/.exec(shard)![1]).toBe(/Max-Age=(\d+)/.exec(sid)![1]);
  });

  it('when the same shopper logs in on two devices, then both get the same short key', async () => {
    const one = shardOf(await logIn(await browser(t.app)).expect(303));
    const two = shardOf(await logIn(await browser(t.app)).expect(303));

    expect(two).toBe(one);
    expect(one).toMatch(/^[\w-]{12}$/);
  });

  it('when a logged-in shopper loads pages, then the key is sent only while the browser lacks it', async () => {
    const b = await browser(t.app);
    await logIn(b).expect(303);

    const withIt = await b.agent.get('/orders').expect(200);
    const sid = t.c.services.accounts.issueSession(userId);
    const without = await request(t.app).get('/orders').set('Cookie', `sid=${sid}`).expect(200);
    const stale = await request(t.app).get('/orders').set('Cookie', `sid=${sid}; shard=someone-else`).expect(200);

    expect(setCookies(withIt, 'shard')).toEqual([]);
    expect(shardOf(without)).toBe(shardKey(t.c.config.cookieKeys[0], userId));
    expect(shardOf(stale)).toBe(shardKey(t.c.config.cookieKeys[0], userId));
  });

  it('when a visitor is not logged in, then no key is set (the balancer uses their address)', async () => {
    const res = await request(t.app).get('/').expect(200);

    expect(setCookies(res, 'shard')).toEqual([]);
  });

  it('when a shopper logs out, then `shard` is cleared with the login cookie', async () => {
    const b = await browser(t.app);
    await logIn(b).expect(303);

    const res = await b.agent.post('/user/logout').type('form').send({ _csrf: b.csrf });

    expect(res.status).toBe(303);
    expect(setCookies(res, 'shard')).toEqual([expect.stringMatching(/^shard=;.*Expires=Thu, 01 Jan 1970/)]);
    const after = await b.agent.get('/').expect(200);
    expect(setCookies(after, 'shard')).toEqual([]);
  });

  it('when cookies are secure, then `shard` is Secure too', async () => {
    await t.close();
    t = await buildTestApp({ database, env: { COOKIE_SECURE: 'true' } });
    userId = (await t.c.services.accounts.register('dave', 'Dave', PASSWORD)).id;
    const sid = t.c.services.accounts.issueSession(userId);

    const res = await request(t.app).get('/orders').set('Cookie', `__Host-sid=${sid}`).expect(200);

    expect(setCookies(res, 'shard')).toEqual([expect.stringMatching(/; Secure/)]);
  });
});
