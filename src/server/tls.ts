import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { TlsMaterial } from './context.js';

/**
 * The data folder's TLS key and certificate. On first run a self-signed certificate is made
 * with subjectAltName localhost, 127.0.0.1, ::1 and the host name, so that clients can pin it
 * (DATA/tls/cert.pem). Replace both files with real ones to use a CA-issued certificate.
 */
export async function ensureTls(dataDir: string): Promise<TlsMaterial & { created: boolean; certFile: string }> {
  const dir = join(dataDir, 'tls');
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  if (existsSync(keyFile) && existsSync(certFile)) {
    return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), created: false, certFile };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = hostname();
  const { generate } = await import('selfsigned'); // loaded only on first run: it is large
  const pems = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          ...(host !== 'localhost' ? [{ type: 2 as const, value: host }] : []),
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, created: true, certFile };
}
