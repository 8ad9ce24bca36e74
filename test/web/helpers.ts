import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import type { User } from '../../src/store/types.js';
import { OWA_DECORATION, type OwaState } from '../../src/web/owa/index.js';
import { GIVE_UP_MS, startTestServer, type TestServer } from '../helpers/server.js';

/** The repository root (this file runs from dist/test/web/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const ARTIFACTS = join(ROOT, 'test-artifacts');

/** Newest modification time under a folder (to tell whether dist/ui is older than ui/). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Tests run against the built app: build it when missing or older than ui/. Test files run
 * in parallel, so one builds (holding a lock folder) and the others wait for it.
 */
export async function ensureUiBuilt(): Promise<void> {
  const index = join(ROOT, 'dist/ui/index.html');
  const stale = () => !existsSync(index) || statSync(index).mtimeMs < Math.max(newest(join(ROOT, 'ui')), statSync(join(ROOT, 'vite.config.ts')).mtimeMs);
  if (!stale()) return;
  const lock = join(ROOT, 'dist/.ui-build-lock');
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  try {
    mkdirSync(lock);
  } catch {
    const end = Date.now() + 600_000; // the other build's time on a loaded machine: a bound for a hung build only
    while (existsSync(lock) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    return;
  }
  try {
    const r = spawnSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 600_000 });
    if (r.status !== 0) throw new Error('npx vite build failed');
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export type OwaTestServer = TestServer & { owa: OwaState; app: FastifyInstance };

/** The whole server on port 0 (web mail is one of its front ends), with the web mail state exposed. */
export async function startOwaServer(opts: { plaintext?: boolean } = {}): Promise<OwaTestServer> {
  await ensureUiBuilt();
  const t = await startTestServer(opts);
  const https = t.listeners.find((l) => l.name === 'https') as unknown as { app: FastifyInstance };
  return { ...t, app: https.app, owa: (https.app as unknown as Record<string, OwaState>)[OWA_DECORATION]! };
}

export async function addAdmin(srv: TestServer, address: string, password = 'secret-pw'): Promise<User> {
  return srv.ctx.store.createUser({ address, password, isAdmin: true });
}

/** A message in a user's Inbox, as SMTP delivery would leave it. */
export async function deliver(srv: TestServer, user: User, raw: string): Promise<string> {
  const r = await srv.ctx.store.deliver([user.id], Buffer.from(raw.replace(/\r?\n/g, '\r\n')));
  return r.delivered.get(user.id)!.objectId;
}

export function mail(opts: { from?: string; to: string; subject: string; body?: string; html?: string; date?: string }): string {
  const head = [
    `From: ${opts.from ?? 'Sender <sender@example.org>'}`, `To: ${opts.to}`, `Subject: ${opts.subject}`,
    `Date: ${opts.date ?? new Date().toUTCString()}`, `Message-ID: <${Math.random().toString(36).slice(2)}@example.org>`, 'MIME-Version: 1.0',
  ];
  return opts.html
    ? [...head, 'Content-Type: text/html; charset=utf-8', '', opts.html, ''].join('\n')
    : [...head, 'Content-Type: text/plain; charset=utf-8', '', opts.body ?? 'Hello.', ''].join('\n');
}

export interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; text: string; json: any }

/**
 * A minimal browser-like API client: keeps cookies, sends the CSRF header from the CSRF
 * cookie (unless told not to), accepts the self-signed certificate.
 */
export class ApiClient {
  readonly jar = new Map<string, string>();
  constructor(readonly port: number) {}

  get csrf(): string {
    return this.jar.get('__Host-mw-csrf') ?? '';
  }

  request(method: string, path: string, opts: { json?: unknown; raw?: string; csrf?: string | false; headers?: Record<string, string> } = {}): Promise<Res> {
    const body = opts.raw ?? (opts.json === undefined ? undefined : JSON.stringify(opts.json));
    const headers: Record<string, string> = { ...opts.headers };
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const token = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (token !== false && method !== 'GET') headers['x-csrf-token'] = token;
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: this.port, method, path, headers, rejectUnauthorized: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
            const [pair, ...attrs] = c.split(';');
            const eq = pair!.indexOf('=');
            const [k, v] = [pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim()];
            if (attrs.some((a) => /max-age=0/i.test(a.trim())) || v === '') this.jar.delete(k);
            else this.jar.set(k, v);
          }
          const buf = Buffer.concat(chunks);
          const text = buf.toString('utf8');
          let json: unknown;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text, json });
        });
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  get(path: string) { return this.request('GET', `/owa/api${path}`); }
  post(path: string, json: unknown = {}, opts: { csrf?: string | false } = {}) { return this.request('POST', `/owa/api${path}`, { json, ...opts }); }

  async login(address: string, password = 'secret-pw'): Promise<Res> {
    await this.get('/session');
    return this.post('/login', { address, password });
  }
}

/** An SSE stream held open, with the events seen so far. */
/** The web push stream: event names in order, and each event's JSON data (`payloads`). */
export function openStream(port: number, cookie: string, onEvent?: (event: string) => void): Promise<{ status: number; events: string[]; payloads: Array<{ event: string; data: unknown }>; close: () => void; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/owa/api/events', headers: { cookie }, rejectUnauthorized: false }, (res) => {
      const events: string[] = [];
      const payloads: Array<{ event: string; data: unknown }> = [];
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      res.setEncoding('utf8');
      let buffered = '';
      res.on('data', (c: string) => {
        // an event ends with a blank line; a chunk may end inside one
        buffered += c;
        const end = buffered.lastIndexOf('\n\n');
        if (end < 0) return;
        for (const m of buffered.slice(0, end).matchAll(/^event: (\w+)\ndata: (.*)$/gm)) {
          events.push(m[1]!);
          payloads.push({ event: m[1]!, data: JSON.parse(m[2]!) });
          onEvent?.(m[1]!); // as the event's last byte arrives (bench/cluster.ts times it)
        }
        buffered = buffered.slice(end + 2);
      });
      resolve({ status: res.statusCode ?? 0, events, payloads, close: () => req.destroy(), ended });
    });
    req.on('error', reject);
    req.end();
  });
}

export const cookieHeader = (c: ApiClient) => [...c.jar].map(([k, v]) => `${k}=${v}`).join('; ');

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  // Playwright gives an action or a wait 30 s by default: a bound a loaded 2-core machine can
  // exceed. Every context of these tests waits for its events up to GIVE_UP_MS instead.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    context.setDefaultTimeout(GIVE_UP_MS);
    return context;
  };
  return browser;
}
