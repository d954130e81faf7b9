// The shopper's journey through the balancer (nginx, a consistent-hash ring on the shard cookie) to two
// instances sharing one MariaDB and one RabbitMQ: log in, wait, buy, see the order. Runs when
// TEST_DATABASE_URL and TEST_AMQP_URL are set (CI sets both).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import type { LeasedInventory } from '../../src/services/LeasedInventory';
import { startBalancer, Balancer } from '../../tools/lib/balancer';
import { buildTestApp, TestApp } from '../helpers/buildTestApp';
import { waitFor } from '../helpers/waitFor';
import { buyThroughPage, createSale, createUser, eventually, knownCaptcha, launchBrowser, newContext, screenshot, WAIT_MS } from './support/shop';

const describeCluster = process.env.TEST_DATABASE_URL && process.env.TEST_AMQP_URL ? describe : describe.skip;

interface Instance {
  name: string;
  t: TestApp;
  server: http.Server;
  port: number;
  /** The shard cookies of the requests this instance served. */
  shards: string[];
}

async function serve(name: string, t: TestApp): Promise<Instance> {
  const shards: string[] = [];
  const server = http.createServer((req, res) => {
    const shard = /(?:^|;\s*)shard=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (shard) shards.push(shard);
    t.app(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, t, server, port: (server.address() as AddressInfo).port, shards };
}

describeCluster('a shopper buying through the balancer, with two instances', () => {
  let a: Instance;
  let b: Instance;
  let balancer: Balancer;
  let browser: Browser;

  beforeAll(async () => {
    const first = await buildTestApp({ database: 'mysql', queue: 'rabbitmq', captcha: knownCaptcha(), env: { INSTANCE_ID: 'a', LEASE_TTL_MS: '2000', WRITER_HOLD_MS: '0' } });
    a = await serve('a', first);
    b = await serve('b', await buildTestApp({ reuse: first, captcha: knownCaptcha(), env: { INSTANCE_ID: 'b' } }));
    balancer = await startBalancer({ backends: [a.port, b.port] });
    browser = await launchBrowser();
    const settled = (i: Instance) => (i.t.c.services.book.inventory as LeasedInventory).isSettled();
    await waitFor('both instances settled', () => settled(a) && settled(b), 15_000);
  });

  afterAll(async () => {
    await browser?.close();
    await balancer?.stop();
    for (const i of [b, a]) {
      i?.server.closeAllConnections();
      await new Promise<void>((resolve) => (i ? i.server.close(() => resolve()) : resolve()));
    }
    await b?.t.close(); // and a's, whose database and queue it shares
  });

  it('when a shopper logs in and buys, then every request stays on one instance, the order is confirmed once, and the other instance knows', async () => {
    const shopper = await createUser(a.t.c, 'shopper', 'nia');
    const saleId = await createSale(a.t.c, { stock: 3, startsInMs: 4000 });
    await waitFor('the sale known to b', () => b.t.c.services.book.get(saleId) !== undefined);
    const context = await newContext(browser, 'narrow');
    const page = await context.newPage();

    await page.goto(`${balancer.url}/user/login`);
    await page.getByLabel('User name').fill(shopper.userName);
    await page.getByLabel('Password').fill(shopper.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/user/login'));
    const shard = (await context.cookies()).find((c) => c.name === 'shard');
    expect(shard?.value).toMatch(/^[\w-]{8,}$/);

    await page.goto(`${balancer.url}/sales/${saleId}`);
    await page.locator('#sale[data-ready]').waitFor();
    await page.locator('#buy:enabled').waitFor({ timeout: 15_000 }); // the countdown ends
    const said = await buyThroughPage(page);
    expect(said).toMatch(/^Order (accepted|confirmed)/);
    await eventually(async () => /confirmed/.test(await page.locator('#result').innerText()), WAIT_MS, 'the order confirmed');
    await screenshot(page, 'cluster-bought', 'narrow');

    // nginx kept the shopper on one instance: only one of them saw the shopper's shard.
    const served = [a, b].filter((i) => i.shards.includes(shard!.value));
    expect(served).toHaveLength(1);
    const other = served[0] === a ? b : a;
    await waitFor('the other instance told of the buyer', () => other.t.c.services.book.inventory.hasBought(saleId, shopper.id));
    expect((await a.t.c.services.orders.listForUser(shopper.id)).filter((o) => o.saleId === saleId)).toHaveLength(1);

    await page.goto(`${balancer.url}/orders`);
    await expect(page.locator('main').innerText()).resolves.toMatch(/Aurora X1 phone/);
    await context.close();
  });
});
