// GET /metrics after a small sale, read by a Prometheus text-format parser: the shop's counters equal what the
// sale did (and what the audit finds in the database); and who may read it.
import http from 'node:http';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import request from 'supertest';
import { AuditService } from '../../src/services/AuditService';
import { buildTestApp, TestApp, testBackends } from '../helpers/buildTestApp';
import { listen } from '../helpers/listen';
import { buy, createSale, createShoppers, waitForOrders } from '../helpers/shoppers';

type Families = ReturnType<typeof parsePrometheusTextFormat>;

function family(all: Families, name: string) {
  const f = all.find((x) => x.name === name);
  if (!f) throw new Error(`no ${name} in /metrics`);
  return f;
}

/** The value of a counter or gauge sample whose labels include `labels`. */
function value(all: Families, name: string, labels: Record<string, string> = {}): number {
  const sample = family(all, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!sample) throw new Error(`no ${name}${JSON.stringify(labels)} in /metrics`);
  return Number(sample.value);
}

describe.each(testBackends())('/metrics after a sale on $database + $queue', (backend) => {
  let t: TestApp;
  let server: { base: string; close(): Promise<void> };

  beforeAll(async () => {
    t = await buildTestApp({ ...backend, env: { METRICS_INSTANCE: 'shop-a:3000' } });
    server = await listen(t.app);
  });

  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('when a sale of 3 sells out, then attempts by outcome, accepted, stock, orders written and latency count exactly that', async () => {
    const saleId = await createSale(t.c, { stock: 3 });
    const shoppers = await createShoppers(t.c, 5);
    const codes: string[] = [];

    codes.push((await buy(server.base, t.c, saleId, shoppers[0], { cookie: null })).code); // NOT_LOGGED_IN
    codes.push((await buy(server.base, t.c, saleId, shoppers[0])).code); //                    ACCEPTED
    codes.push((await buy(server.base, t.c, saleId, shoppers[0])).code); //                    ALREADY_BOUGHT
    for (const s of shoppers.slice(1)) codes.push((await buy(server.base, t.c, saleId, s)).code); // 2 ACCEPTED, 2 SOLD_OUT
    await waitForOrders(t.c);
    const res = await request(t.app).get('/metrics').expect(200);
    const m = parsePrometheusTextFormat(res.text);
    // The parser folds a histogram's series into one sample only when they carry no label but `le`: read the
    // histograms from the text without the instance label (which every series carries; checked below).
    const h = parsePrometheusTextFormat(res.text.replace(/instance="shop-a:3000",?/g, '').replace(/\{\}/g, ''));

    expect(codes).toEqual(['NOT_LOGGED_IN', 'ACCEPTED', 'ALREADY_BOUGHT', 'ACCEPTED', 'ACCEPTED', 'SOLD_OUT', 'SOLD_OUT']);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const attempts = family(m, 'flashsale_purchase_attempts_total');
    expect(attempts.type).toBe('COUNTER');
    const nonZero = Object.fromEntries(attempts.metrics.filter((s) => Number(s.value) > 0).map((s) => [s.labels!.outcome, Number(s.value)]));
    expect(nonZero).toEqual({ ACCEPTED: 3, NOT_LOGGED_IN: 1, ALREADY_BOUGHT: 1, SOLD_OUT: 2 });
    expect(value(m, 'flashsale_purchases_accepted_total')).toBe(3);
    expect(value(m, 'flashsale_sale_stock_remaining', { sale_id: String(saleId) })).toBe(0);
    expect(value(m, 'flashsale_sale_stock_sold', { sale_id: String(saleId) })).toBe(3);
    expect(value(m, 'flashsale_orders_written_total')).toBe(3);
    expect(value(m, 'flashsale_orders_pending')).toBe(0);
    const latency = family(h, 'flashsale_purchase_duration_seconds');
    expect(latency.type).toBe('HISTOGRAM');
    expect(Number(latency.metrics[0].count)).toBe(7);
    expect(Object.keys(latency.metrics[0].buckets!)).toContain('0.0001'); // finer than a millisecond
    const batches = family(h, 'flashsale_writer_batch_orders').metrics[0];
    expect(Number(batches.sum)).toBe(3);
    const confirms = Number(family(h, 'flashsale_queue_publish_confirm_seconds').metrics[0].count);
    if (backend.queue === 'rabbitmq') expect(confirms).toBeGreaterThanOrEqual(1);
    else expect(confirms).toBe(0);
    expect(value(m, 'flashsale_queue_depth_messages')).toBe(0);
    expect(value(m, 'flashsale_queue_dead_letter_messages')).toBe(0);
    expect(value(m, 'flashsale_dependency_up', { dependency: 'database' })).toBe(1);
    expect(value(m, 'flashsale_captcha_pool_size')).toBe(64);
    // The defaults are there, and every series names its instance.
    expect(m.map((f) => f.name)).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'flashsale_event_loop_lag_seconds', 'flashsale_lag_shedding']));
    const lines = res.text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.every((l) => /\{(.*,)?instance="shop-a:3000"[,}]/.test(l))).toBe(true);
    expect(m.filter((f) => f.type !== 'HISTOGRAM').every((f) => f.metrics.every((s) => s.labels?.instance === 'shop-a:3000'))).toBe(true);
    // ... and agree with the database.
    const audit = await new AuditService(t.c.repos.sales, t.c.repos.orders).audit({ saleId });
    expect(audit.ok).toBe(true);
    expect(await t.c.repos.orders.countBySale(saleId)).toBe(value(m, 'flashsale_purchases_accepted_total'));
  });
});

describe('who may read /metrics', () => {
  const TOKEN = 'metrics-token-0123456789';
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const a of apps) await a.close();
  });
  async function app(env: Record<string, string>) {
    const a = await buildTestApp({ env });
    apps.push(a);
    return a.app;
  }
  // TRUST_PROXY=1 makes the forwarded address the client's, as behind a balancer on this host.
  const remote = (r: request.Test) => r.set('X-Forwarded-For', '203.0.113.9');

  it('when nothing is configured, then loopback reads it and another address gets 403', async () => {
    const a = await app({ TRUST_PROXY: '1' });

    await request(a).get('/metrics').expect(200);
    const refused = await remote(request(a).get('/metrics'));
    expect(refused.status).toBe(403);
    expect(refused.text).not.toContain('flashsale_');
  });

  it('when a token is set, then another address reads it with the token and only with it', async () => {
    const a = await app({ TRUST_PROXY: '1', METRICS_TOKEN: TOKEN });

    expect((await remote(request(a).get('/metrics').set('Authorization', `Bearer ${TOKEN}`))).status).toBe(200);
    expect((await remote(request(a).get('/metrics').set('Authorization', `Bearer ${TOKEN}x`))).status).toBe(403);
    expect((await remote(request(a).get('/metrics'))).status).toBe(403);
  });

  it('when METRICS=off, then nobody reads it (404), loopback included', async () => {
    const a = await app({ METRICS: 'off' });

    expect((await request(a).get('/metrics')).status).toBe(404);
  });

  it('when METRICS=open, then any address reads it', async () => {
    const a = await app({ TRUST_PROXY: '1', METRICS: 'open' });

    expect((await remote(request(a).get('/metrics'))).status).toBe(200);
  });
});

/** Reads an event stream until `until` says enough, then hangs up; returns the frames read. */
function readEvents(url: string, cookie: string, until: (frames: string[]) => boolean): Promise<{ status: number; type: string; frames: string[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Cookie: cookie, Accept: 'text/event-stream' } }, (res) => {
      let buffer = '';
      const frames: string[] = [];
      const done = () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), frames });
      };
      if (res.statusCode !== 200) return done();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let i;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          frames.push(buffer.slice(0, i));
          buffer = buffer.slice(i + 2);
        }
        if (until(frames)) done();
      });
    });
    req.on('error', reject);
  });
}

describe('the live sale dashboard', () => {
  let t: TestApp;
  let server: { base: string; close(): Promise<void> };
  let admin: string;
  let shopper: string;

  beforeAll(async () => {
    t = await buildTestApp();
    server = await listen(t.app);
    const boss = await t.c.services.accounts.register('live_boss', 'Boss', 'correct horse battery', 'admin');
    admin = `sid=${t.c.services.accounts.issueSession(boss.id)}`;
    shopper = (await createShoppers(t.c, 1))[0].cookie;
  });

  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('when an admin opens it during a sale, then the page shows the sale and the stream sends history then samples', async () => {
    const saleId = await createSale(t.c, { stock: 2 });
    const [buyer] = await createShoppers(t.c, 1);
    await buy(server.base, t.c, saleId, buyer);

    const page = await request(t.app).get(`/admin/sales/${saleId}/live`).set('Cookie', admin).expect(200);
    const stream = await readEvents(`${server.base}/admin/sales/${saleId}/live/events`, admin, (f) => f.some((x) => x.includes('event: sample')));

    expect(page.text).toContain(`data-events="/admin/sales/${saleId}/live/events"`);
    expect(page.text).toMatch(/data-live="left">1</);
    expect(stream.status).toBe(200);
    expect(stream.type).toMatch(/^text\/event-stream/);
    expect(stream.frames[0]).toMatch(/^retry: \d+\nevent: history\ndata: \[/);
    const sample = JSON.parse(stream.frames.find((f) => f.startsWith('event: sample'))!.split('\ndata: ')[1]);
    expect(sample).toMatchObject({ saleId, phase: 'live', stock: 2, left: 1, sold: 1, health: { database: true, broker: true } });
    expect(sample.refusedTotal).toEqual({});
  });

  it('when two admins watch, then each gets the stream, and a closed stream leaves the sampler', async () => {
    const saleId = await createSale(t.c, { stock: 2 });
    const live = t.c.services.live;
    const before = live.watcherCount();

    const one = readEvents(`${server.base}/admin/sales/${saleId}/live/events`, admin, (f) => f.length >= 2);
    const two = readEvents(`${server.base}/admin/sales/${saleId}/live/events`, admin, (f) => f.length >= 2);
    await Promise.all([one, two]);

    await waitForWatchers(() => live.watcherCount() === before);
  });

  it('when a shopper or a visitor asks for the page or its stream, then 403 and 401', async () => {
    const saleId = await createSale(t.c, { stock: 2 });

    expect((await request(t.app).get(`/admin/sales/${saleId}/live`).set('Cookie', shopper)).status).toBe(403);
    expect((await request(t.app).get(`/admin/sales/${saleId}/live/events`).set('Cookie', shopper)).status).toBe(403);
    expect((await request(t.app).get(`/admin/sales/${saleId}/live/events`)).status).toBe(401);
  });
});

async function waitForWatchers(condition: () => boolean): Promise<void> {
  const { waitFor } = await import('../helpers/waitFor');
  await waitFor('the closed streams left the sampler', condition);
}
