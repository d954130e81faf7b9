// Tools for the hostile-input suite: a browser's CSRF cookie and token, forged login cookies, raw HTTP for
// paths a client library would normalise, and a snapshot of every table to prove a request changed nothing.
import http from 'node:http';
import request from 'supertest';
import type { RequestHandler } from '../../src/app';
import type { Container } from '../../src/container';
import { buildTestApp, TestApp, TestAppOptions } from './buildTestApp';
import { listen } from './listen';

/** What a browser sends with a state-changing request: its cookies and the page's CSRF token. */
export interface Visitor {
  cookie: string;
  csrf: string;
}

export function setCookies(res: { headers: Record<string, unknown> }): string[] {
  return ([] as string[]).concat((res.headers['set-cookie'] as string[] | string | undefined) ?? []);
}

/** A browser that has opened a page (logged in when `sid` is given), so it holds a CSRF cookie and token. */
export async function visitor(app: RequestHandler, sid?: string): Promise<Visitor> {
  const req = request(app).get('/user/login');
  if (sid) req.set('Cookie', `sid=${sid}`);
  const page = await req;
  const csrfCookie = setCookies(page).find((c) => c.startsWith('csrf='));
  const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)?.[1];
  if (page.status !== 200 || !csrfCookie || !token) throw new Error(`no CSRF cookie or token on /user/login (${page.status})`);
  const csrf = csrfCookie.split(';')[0];
  return { cookie: sid ? `sid=${sid}; ${csrf}` : csrf, csrf: token };
}

/** The login cookie's value inside a `sid=...` Cookie header. */
export function sidOf(cookie: string): string {
  return /(?:^|;\s*)sid=([^;]+)/.exec(cookie)![1];
}

/**
 * Every single-byte change of a sealed login cookie (each byte of the decoded token xor 0x01 and xor 0xff,
 * re-encoded) and its truncations: none of them may log anyone in.
 */
export function tamperedCookies(sid: string): { name: string; value: string }[] {
  const raw = Buffer.from(sid, 'base64url');
  if (raw.toString('base64url') !== sid) throw new Error('not a base64url login cookie');
  const out: { name: string; value: string }[] = [];
  for (let i = 0; i < raw.length; i++) {
    for (const mask of [0x01, 0xff]) {
      const b = Buffer.from(raw);
      b[i] ^= mask;
      out.push({ name: `byte ${i} xor 0x${mask.toString(16)}`, value: b.toString('base64url') });
    }
  }
  out.push(
    { name: 'last character cut', value: sid.slice(0, -1) },
    { name: 'last byte cut', value: raw.subarray(0, -1).toString('base64url') },
    { name: 'auth tag cut', value: raw.subarray(0, -16).toString('base64url') },
    { name: 'first byte cut', value: raw.subarray(1).toString('base64url') },
    { name: 'half', value: sid.slice(0, sid.length >> 1) },
    { name: 'one character', value: sid.slice(0, 1) },
  );
  return out;
}

const TABLES = ['users', 'products', 'flash_sales', 'orders', 'blacklist_entries'];

/** Every row of every table: equal before and after means the requests in between changed nothing. */
export async function snapshot(c: Container): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    const rows = (await c.dataSource.query(`SELECT * FROM ${table} ORDER BY id`)) as object[];
    out[table] = rows.map((r) => ({ ...r }));
  }
  return out;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with the path sent byte for byte (fetch and supertest would resolve `..` first). */
export function rawRequest(base: string, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** How EJS's `<%= %>` writes a value. */
export function escapeHtml(s: string): string {
  const map: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
  return s.replace(/[&<>"']/g, (ch) => map[ch]);
}

/** One app (and a loopback server for it) shared by the tests of a describe block. */
export function useTestApp(options: TestAppOptions): { readonly t: TestApp; readonly base: string } {
  const state: { t?: TestApp; server?: { base: string; close(): Promise<void> } } = {};
  beforeAll(async () => {
    state.t = await buildTestApp(options);
    state.server = await listen(state.t.app);
  });
  afterAll(async () => {
    await state.server?.close();
    await state.t?.close();
  });
  return {
    get t() {
      return state.t!;
    },
    get base() {
      return state.server!.base;
    },
  };
}
