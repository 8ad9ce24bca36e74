import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, networkInterfaces } from 'node:os';
import type { CertificateFiles } from '../tls/certificates.js';

/** Where the data folder keeps its own key and certificate. */
export function ownCertificateFiles(dataDir: string): CertificateFiles {
  const dir = join(dataDir, 'tls');
  return { keyFile: join(dir, 'key.pem'), certFile: join(dir, 'cert.pem') };
}

/**
 * The data folder's own TLS key and certificate. On first run a self-signed certificate is made
 * whose subjectAltName holds every name and address a client may be given for this machine:
 * localhost, the host name, 127.0.0.1, ::1 and the addresses of its network interfaces (clients
 * check the SAN; `mailwarden tls show` prints the fingerprint and how to trust it). Replacing
 * the two files (or configuring others, `tls.certificates`) takes effect without a restart.
 */
export async function ensureTls(dataDir: string): Promise<CertificateFiles & { key: string; cert: string; created: boolean }> {
  const { keyFile, certFile } = ownCertificateFiles(dataDir);
  const dir = join(dataDir, 'tls');
  if (existsSync(keyFile) && existsSync(certFile)) {
    return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), created: false, certFile, keyFile };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = hostname().toLowerCase();
  const addresses = new Set(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.address.startsWith('fe80:')) addresses.add(a.address);
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
          ...[...addresses].map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, created: true, certFile, keyFile };
}
