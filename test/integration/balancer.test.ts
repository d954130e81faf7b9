// The balancer as shipped (tools/lib/nginxConfig.ts, rendered into deploy/nginx.conf) on a real nginx, in
// front of tiny loopback backends that answer their own name: who lands where, and who moves when one goes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Balancer, findNginx, NGINX_MISSING, startBalancer } from '../../tools/lib/balancer';
import { shardKey } from '../../src/lib/shard';

interface Backend {
  name: string;
  port: number;
  /** Requests it has been sent, by method and path. */
  seen: string[];
  close(): Promise<void>;
}

async function backend(name: string): Promise<Backend> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    // An instance that takes the request and dies before it answers.
    if (req.url === `/dies-on-${name}`) return void req.socket.destroy();
    req.resume();
    req.on('end', () => res.end(name));
  });
  // As the app does: longer than nginx keeps an idle upstream connection.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Backends of these names and nginx in front of them. */
async function balanced(names: string[]): Promise<{ backends: Backend[]; b: Balancer }> {
  const backends = await Promise.all(names.map(backend));
  return { backends, b: await startBalancer({ backends: backends.map((x) => x.port) }) };
}

async function shutDown(b: Balancer | undefined, backends: Backend[] | undefined): Promise<void> {
  await b?.stop();
  await Promise.all((backends ?? []).map((x) => x.close()));
}

interface Answer {
  status: number;
  body: string;
}

/** One request through the balancer, from `localAddress` (a loopback address) when given. */
function send(b: Balancer, o: { agent?: http.Agent | false; shard?: string; localAddress?: string; method?: string; path?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${b.url}${o.path ?? '/'}`,
      { method: o.method ?? 'GET', agent: o.agent ?? false, localAddress: o.localAddress, headers: o.shard ? { Cookie: `shard=${o.shard}` } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Where each key lands, asked `concurrency` at a time over kept-alive connections. */
async function routes(b: Balancer, keys: string[], concurrency = 32): Promise<Map<string, string>> {
  // A new agent per pass: after a reload, a kept-alive connection could still be served under the old config.
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const out = new Map<string, string>();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < keys.length) {
          const key = keys[next++];
          const a = await send(b, { agent, shard: key });
          if (a.status !== 200) throw new Error(`key ${key}: ${a.status} ${a.body}`);
          out.set(key, a.body);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return out;
}

const on = (m: Map<string, string>, name: string) => [...m].filter(([, v]) => v === name).map(([k]) => k).sort();
const changed = (a: Map<string, string>, b: Map<string, string>) => [...a.keys()].filter((k) => a.get(k) !== b.get(k)).sort();

/** 2,000 shoppers' keys as the app makes them. */
const KEYS = Array.from({ length: 2000 }, (_, i) => shardKey(Buffer.alloc(16, 0x2a), i + 1));

describe('the balancer (nginx, hash $shopper_key consistent)', () => {
  beforeAll(() => {
    if (!findNginx()) throw new Error(NGINX_MISSING);
  });

  describe('routing and the ring', () => {
    let backends: Backend[];
    let b: Balancer;
    let first: Map<string, string>;

    beforeAll(async () => {
      if (!findNginx()) return;
      ({ backends, b } = await balanced(['a', 'b', 'c', 'd']));
      first = await routes(b, KEYS);
    }, 60_000);

    afterAll(() => shutDown(b, backends));

    it('when the same shoppers come back, then each lands on the same backend every time, and all four share them', async () => {
      const again = await routes(b, KEYS);
      const third = await routes(b, [...KEYS].reverse(), 7);

      expect(changed(first, again)).toEqual([]);
      expect(changed(first, third)).toEqual([]);
      for (const name of ['a', 'b', 'c', 'd']) {
        // 160 virtual nodes each: every share is near a quarter.
        expect(on(first, name).length / KEYS.length).toBeGreaterThan(0.12);
        expect(on(first, name).length / KEYS.length).toBeLessThan(0.38);
      }
    }, 60_000);

    it('when one of four backends is removed, then exactly its shoppers move (about 1/4) and adding it back restores the map', async () => {
      const removed = backends.find((x) => x.name === 'c')!;

      await b.reload(backends.filter((x) => x !== removed).map((x) => x.port));
      const without = await routes(b, KEYS);
      await b.reload(backends.map((x) => x.port));
      const back = await routes(b, KEYS);

      const moved = changed(first, without);
      process.stdout.write(`balancer test: removing 1 of 4 backends moved ${moved.length} of ${KEYS.length} shoppers (${((moved.length / KEYS.length) * 100).toFixed(1)}%)\n`);
      expect(moved).toEqual(on(first, 'c'));
      expect(on(without, 'c')).toEqual([]);
      expect(moved.length / KEYS.length).toBeGreaterThan(0.12);
      expect(moved.length / KEYS.length).toBeLessThan(0.38);
      expect(changed(first, back)).toEqual([]);
    }, 60_000);

    it('when visitors have no shard cookie, then each address always lands on one backend and addresses spread', async () => {
      const addresses = Array.from({ length: 120 }, (_, i) => `127.0.${Math.floor(i / 200)}.${(i % 200) + 2}`);
      const where = new Map<string, string>();

      for (const localAddress of addresses) {
        const answers = await Promise.all([1, 2, 3].map(() => send(b, { localAddress })));
        expect(new Set(answers.map((a) => a.body)).size).toBe(1);
        where.set(localAddress, answers[0].body);
      }

      expect(new Set(where.values())).toEqual(new Set(['a', 'b', 'c', 'd']));
    }, 60_000);
  });

  describe('failover', () => {
    let backends: Backend[];
    let b: Balancer;

    beforeEach(async () => {
      if (findNginx()) ({ backends, b } = await balanced(['a', 'b', 'c']));
    }, 30_000);

    afterEach(() => shutDown(b, backends));

    it('when a backend dies, then its shoppers go where its removal would send them, and nobody else moves', async () => {
      const before = await routes(b, KEYS);
      const dead = backends.find((x) => x.name === 'b')!;
      await b.reload(backends.filter((x) => x !== dead).map((x) => x.port));
      const removal = await routes(b, KEYS);
      await b.reload(backends.map((x) => x.port));
      expect(changed(before, await routes(b, KEYS))).toEqual([]);

      await dead.close();
      const after = await routes(b, KEYS);

      expect(changed(before, after)).toEqual(on(before, 'b'));
      expect(changed(removal, after)).toEqual([]);
    }, 60_000);

    it('when a backend dies after taking a GET, then the next one on the ring answers it', async () => {
      const key = on(await routes(b, KEYS.slice(0, 200)), 'a')[0];
      const a = backends.find((x) => x.name === 'a')!;

      const get = await send(b, { shard: key, path: '/dies-on-a' });

      expect(a.seen).toEqual(expect.arrayContaining(['GET /dies-on-a']));
      expect(get.status).toBe(200);
      expect(['b', 'c']).toContain(get.body);
    }, 30_000);

    it('when a backend dies after taking a POST (a purchase), then the shopper gets 502 and no other backend is sent it', async () => {
      const key = on(await routes(b, KEYS.slice(0, 200)), 'a')[0];

      const post = await send(b, { shard: key, method: 'POST', path: '/dies-on-a' });

      expect(post.status).toBe(502);
      expect(backends.map((x) => x.seen.filter((s) => s === 'POST /dies-on-a').length)).toEqual([1, 0, 0]);
    }, 30_000);
  });
});
