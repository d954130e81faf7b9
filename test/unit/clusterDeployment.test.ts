// The cluster's deployment files: deploy/nginx.conf is the renderer's output (so the balancer tested on
// loopback is the one deployed), and docker-compose.cluster.yml wires what nginx.conf expects.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deployedNginxConfig, renderNginxConfig } from '../../tools/lib/nginxConfig';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

// js-yaml comes with jest (no dependency of its own for one test); v3's safeLoad knows YAML merge keys.
const { safeLoad } = require('js-yaml') as { safeLoad(text: string): unknown };

interface ComposeService {
  build?: string;
  image?: string;
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

const directives = (conf: string) =>
  conf
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

describe('deploy/nginx.conf', () => {
  const conf = read('deploy/nginx.conf');

  it('when compared with the renderer, then it is exactly its rendering for app1..app3 (regenerate as its header says)', () => {
    expect(conf).toBe(deployedNginxConfig());
  });

  it('when read, then it routes by the consistent ring on the shard cookie, or the address without one', () => {
    const d = directives(conf);

    expect(d).toContain('hash $shopper_key consistent;');
    expect(conf).toMatch(/map \$cookie_shard \$shopper_key \{\s+"" \$remote_addr;\s+default \$cookie_shard;\s+\}/);
    expect(d.filter((l) => l.startsWith('server app'))).toEqual([
      'server app1:3000 max_fails=1 fail_timeout=5s;',
      'server app2:3000 max_fails=1 fail_timeout=5s;',
      'server app3:3000 max_fails=1 fail_timeout=5s;',
    ]);
  });

  it('when read, then upstream connections are kept alive, proxy headers passed, and a POST never resent', () => {
    const d = directives(conf);

    for (const line of ['keepalive 1024;', 'proxy_http_version 1.1;', 'proxy_set_header Connection "";', 'proxy_set_header Host $http_host;',
      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;', 'proxy_set_header X-Forwarded-Proto $scheme;', 'proxy_next_upstream error timeout;']) {
      expect(d).toContain(line);
    }
    expect(d.join('\n')).not.toContain('non_idempotent');
    expect(d.join('\n')).not.toContain('/.balancer');
  });

  it('when read, then the live dashboard\'s event stream is passed on unbuffered', () => {
    const sse = /location ~ \^\/admin\/sales\/\[\^\/\]\+\/live\(\/\|\$\) \{([^}]*)\}/.exec(conf);

    expect(sse).not.toBeNull();
    expect(sse![1]).toContain('proxy_buffering off;');
    expect(sse![1]).toContain('proxy_pass http://shop;');
  });

  it('when rendered for loopback, then only the instances, the listen address and the private paths differ', () => {
    const local = renderNginxConfig({ backends: ['127.0.0.1:4001', '127.0.0.1:4002', '127.0.0.1:4003'], listen: '127.0.0.1:8080', workerProcesses: 'auto', main: ['pid /tmp/nginx.pid;', 'error_log stderr warn;'], http: ['access_log off;'] });

    expect(local.replace(/127\.0\.0\.1:400(\d)/g, 'app$1:3000').replace('listen 127.0.0.1:8080;', 'listen 80;')).toBe(conf);
  });
});

describe('docker-compose.cluster.yml', () => {
  const compose = safeLoad(read('docker-compose.cluster.yml')) as { services: Record<string, ComposeService> };
  const s = compose.services;
  const apps = ['app1', 'app2', 'app3'];

  it('when parsed, then it has nginx, three app instances of the project\'s image, MariaDB and RabbitMQ', () => {
    expect(Object.keys(s).sort()).toEqual(['app1', 'app2', 'app3', 'mariadb', 'nginx', 'rabbitmq']);
    for (const app of apps) {
      expect(s[app]).toMatchObject({ build: '.', image: 'flash-sale' });
      expect(s[app].healthcheck?.test.join(' ')).toContain('/healthz');
    }
    expect(s.mariadb.healthcheck).toBeDefined();
    expect(s.rabbitmq.healthcheck).toBeDefined();
  });

  it('when parsed, then nginx serves deploy/nginx.conf and waits for every instance nginx.conf names', () => {
    expect(s.nginx.volumes).toContain('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro');
    const upstreams = [...read('deploy/nginx.conf').matchAll(/server (app\d):(\d+)/g)].map((m) => [m[1], m[2]]);
    expect(upstreams.map(([name]) => name)).toEqual(apps);
    for (const [name, port] of upstreams) {
      expect(s[name].environment?.PORT).toBe(port);
      expect(s.nginx.depends_on?.[name]).toEqual({ condition: 'service_healthy' });
    }
  });

  it('when parsed, then each instance has its own id and the shared keys, engines and proxy settings', () => {
    for (const app of apps) {
      const env = s[app].environment!;
      expect(env).toMatchObject({
        INSTANCE_ID: app,
        METRICS_INSTANCE: app,
        NODE_ENV: 'production',
        COOKIE_SECURE: 'false',
        TRUST_PROXY: '1',
        DATABASE_URL: expect.stringMatching(/^mysql:\/\/[^@]+@mariadb:3306\//),
        AMQP_URL: expect.stringMatching(/^amqp:\/\/[^@]+@rabbitmq:5672$/),
      });
      // Unset, compose stops with this message instead of starting instances that cannot read each other's logins.
      expect(env.COOKIE_KEYS).toMatch(/^\$\{COOKIE_KEYS:\?.+\}$/);
      expect(s[app].depends_on).toMatchObject({ mariadb: { condition: 'service_healthy' }, rabbitmq: { condition: 'service_healthy' } });
    }
    // One instance applies the migrations before the others start.
    expect(s.app1.depends_on?.app2).toBeUndefined();
    expect(s.app2.depends_on?.app1).toEqual({ condition: 'service_healthy' });
    expect(s.app3.depends_on?.app1).toEqual({ condition: 'service_healthy' });
  });
});
