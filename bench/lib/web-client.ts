/**
 * The web mail's API for benchmark clients: HTTPS requests (self-signed certificate accepted)
 * and the sign-in that yields one web session's Cookie header.
 */
import { request, type Agent, type RequestOptions } from 'node:https';

export interface HttpRes { status: number; json: any; cookies: Map<string, string> }

export function https(port: number, method: string, path: string, headers: Record<string, string>, body?: unknown, agent?: Agent): Promise<HttpRes> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  const opts: RequestOptions = {
    host: '127.0.0.1', port, method, path, rejectUnauthorized: false, ...(agent ? { agent } : {}),
    headers: { ...headers, ...(data === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)) }) },
  };
  return new Promise((resolve, reject) => {
    const req = request(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const cookies = new Map<string, string>();
        for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
          const pair = c.split(';')[0]!;
          const eq = pair.indexOf('=');
          cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
        }
        let json: unknown;
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, json, cookies });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** GET /session (CSRF cookie), POST /login: the Cookie header of one signed-in web session. */
export async function signIn(port: number, address: string, password: string): Promise<string> {
  const s = await https(port, 'GET', '/owa/api/session', {});
  const csrf = String(s.json?.csrf ?? '');
  const r = await https(port, 'POST', '/owa/api/login', { cookie: `__Host-mw-csrf=${csrf}`, 'x-csrf-token': csrf }, { address, password });
  if (r.status !== 200) throw new Error(`web sign-in answered ${r.status}: ${JSON.stringify(r.json)}`);
  const session = r.cookies.get('__Host-mw-owa');
  if (!session) throw new Error('web sign-in set no session cookie');
  return `__Host-mw-owa=${session}; __Host-mw-csrf=${r.cookies.get('__Host-mw-csrf') ?? csrf}`;
}

