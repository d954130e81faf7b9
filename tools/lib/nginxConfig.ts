// The balancer's nginx configuration, rendered in one place: deploy/nginx.conf is this rendering for the
// compose file's app1..app3 (a test holds them equal), and tools/lib/balancer.ts renders the same directives
// for instances on loopback ports. Regenerate the deployed file with:
//   npm run build:tools && node dist/tools/lib/nginxConfig.js > deploy/nginx.conf

export interface NginxConfigOptions {
  /** The app instances, `host:port`, in the order written. */
  backends: string[];
  /** What the balancer listens on: `80` in a container, `127.0.0.1:PORT` on a test machine. */
  listen: string;
  workerProcesses: number | 'auto';
  /** Lines of the main context before `events` (pid, error_log of a private prefix), already terminated. */
  main?: string[];
  /** Lines at the top of the `http` context (access_log, temp paths of a private prefix). */
  http?: string[];
  /**
   * When set, GET /.balancer answers this text from the balancer itself, so that a reload can be seen to be in
   * effect; left out of the deployed file.
   */
  generation?: string;
}

/** The instance is considered down after this many failed attempts within FAIL_TIMEOUT, and left alone that long. */
export const MAX_FAILS = 1;
export const FAIL_TIMEOUT = '5s';

export function renderNginxConfig(o: NginxConfigOptions): string {
  if (o.backends.length === 0) throw new Error('the balancer needs at least one backend');
  const lines: string[] = [];
  const add = (indent: number, ...more: string[]) => lines.push(...more.map((l) => (l === '' ? '' : '  '.repeat(indent) + l)));
  add(0, '# nginx in front of the shop\'s instances: each shopper is routed by a consistent-hash ring (ketama,');
  add(0, '# 160 virtual nodes per instance) on a stable per-shopper key. Rendered by tools/lib/nginxConfig.ts;');
  add(0, '# see docs/CLUSTER.md, "The balancer".');
  add(0, `worker_processes ${o.workerProcesses};`);
  add(0, '# A reload waits this long at most for old workers\' open requests (the live dashboard\'s stream is one).');
  add(0, 'worker_shutdown_timeout 10s;');
  add(0, ...(o.main ?? []));
  add(0, 'events {', '  worker_connections 4096;', '}', '', 'http {');
  add(1, ...(o.http ?? []));
  add(1, 'server_tokens off;', '');
  add(1, '# The routing key: the `shard` cookie of a logged-in shopper (a MAC of the user id, the same on every');
  add(1, '# device); an anonymous visitor is hashed by address, so that no single key gathers every visitor.');
  add(1, 'map $cookie_shard $shopper_key {', '  "" $remote_addr;', '  default $cookie_shard;', '}', '');
  add(1, '# An instance that fails is left alone for fail_timeout: its shoppers go to the next instance on the');
  add(1, '# ring meanwhile, and every other shopper stays where they were.');
  add(1, 'upstream shop {');
  add(2, 'hash $shopper_key consistent;');
  for (const b of o.backends) add(2, `server ${b} max_fails=${MAX_FAILS} fail_timeout=${FAIL_TIMEOUT};`);
  add(2, '# Idle connections kept per worker, above the requests a crowd keeps in flight: a request beyond them');
  add(2, '# would open and close a connection of its own, which costs the instance more than the request.');
  add(2, 'keepalive 1024;');
  add(2, 'keepalive_requests 1000000;');
  add(2, '# Below the app\'s keepAliveTimeout (65 s): nginx closes an idle connection before the app does, so it');
  add(2, '# never sends a request down a connection the app is closing.');
  add(2, 'keepalive_timeout 60s;');
  add(1, '}', '');
  add(1, 'server {');
  add(2, `listen ${o.listen};`, '');
  add(2, 'proxy_http_version 1.1;');
  add(2, 'proxy_set_header Connection "";');
  // The Host as the browser sent it, port included: the app's Origin check compares scheme, host and port.
  add(2, 'proxy_set_header Host $http_host;');
  add(2, 'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
  add(2, 'proxy_set_header X-Forwarded-Proto $scheme;');
  add(2, '# After an error or a timeout a request goes to the next instance on the ring; a POST (a purchase, a');
  add(2, '# login) only when it never reached the first one: resending one that was sent needs non_idempotent,');
  add(2, '# which stays off, so an instance that took a purchase and died is never asked twice.');
  add(2, 'proxy_next_upstream error timeout;');
  add(2, 'proxy_next_upstream_tries 2;');
  add(2, 'proxy_connect_timeout 2s;', '');
  if (o.generation !== undefined) {
    add(2, 'location = /.balancer {');
    add(3, 'default_type text/plain;');
    add(3, `return 200 "${o.generation}";`);
    add(2, '}', '');
  }
  add(2, '# The live sale dashboard: server-sent events, passed on as they come.');
  add(2, 'location ~ ^/admin/sales/[^/]+/live(/|$) {');
  add(3, 'proxy_pass http://shop;');
  add(3, 'proxy_buffering off;');
  add(3, 'proxy_cache off;');
  add(3, 'proxy_read_timeout 1h;');
  add(2, '}', '');
  add(2, 'location / {');
  add(3, 'proxy_pass http://shop;');
  add(2, '}');
  add(1, '}');
  add(0, '}');
  return `${lines.join('\n')}\n`;
}

/** deploy/nginx.conf: docker-compose.cluster.yml's app1..app3 behind the balancer on port 80. */
export function deployedNginxConfig(): string {
  return renderNginxConfig({
    backends: ['app1:3000', 'app2:3000', 'app3:3000'],
    listen: '80',
    workerProcesses: 'auto',
    main: ['pid /tmp/nginx.pid;', 'error_log stderr warn;'],
    http: ['access_log off;'],
  });
}

if (require.main === module) process.stdout.write(deployedNginxConfig());
