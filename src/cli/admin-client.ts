import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminTokenFile, readRunningServer } from '../server/running.js';
import { CliError } from './args.js';

/**
 * Talks to the running server's admin API over HTTPS, trusting only the data folder's own
 * certificate, with the admin token from the data folder. Returns null when no server runs.
 */
export class AdminClient {
  private constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly token: string,
    private readonly ca: string,
  ) {}

  static forDataDir(dataDir: string): AdminClient | null {
    const info = readRunningServer(dataDir);
    if (!info) return null;
    const host = info.host === '0.0.0.0' || info.host === '::' ? '127.0.0.1' : info.host;
    return new AdminClient(host, info.httpPort, readFileSync(adminTokenFile(dataDir), 'utf8').trim(), readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8'));
  }

  /** `json`: a request body (for what must not go into a URL, such as a password). */
  call<T>(method: string, path: string, json?: unknown): Promise<{ status: number; body: T }> {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.host, port: this.port, path, method, ca: this.ca, servername: 'localhost', headers, timeout: 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T });
            } catch {
              reject(new CliError(`the running server answered ${res.statusCode} with something that is not JSON`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e) => reject(new CliError(`cannot reach the running server's admin API on ${this.host}:${this.port}: ${e.message}`)));
      req.end(body);
    });
  }
}
