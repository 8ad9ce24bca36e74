import { createServer, type Server } from 'node:http';
import { Agent } from 'node:https';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import * as acme from 'acme-client';
import { loadCertificate, type Certificates, type CertificateFiles, type LoadedCertificate } from './certificates.js';

/**
 * Certificates from an ACME CA (RFC 8555: Let's Encrypt, ZeroSSL, a company's step-ca; README
 * "Certificates"), by the HTTP-01 challenge on a port of our own, kept in DATA/tls/acme/ and
 * swapped into every listener live (Certificates.add: open connections keep theirs).
 *
 * Why acme-client: the protocol's JOSE signing, account and order handling are its job and it
 * is well kept; ours is only the policy: when to order, where to keep the files, what to do
 * when the CA is down (keep serving what we have and try again later).
 */

export interface AcmeConfig {
  directoryUrl: string;
  domains: string[];
  email?: string;
  /** Port of the HTTP-01 responder (80 on a real host: the CA always asks there). */
  httpPort: number;
  httpHost?: string;
  /** PEM file of a CA to trust for the directory's HTTPS (a private ACME CA, pebble in the tests). */
  directoryCaFile?: string;
  /** Renew when less than this fraction of the certificate's lifetime is left (certbot: 30 of 90 days). */
  renewWhenLeft: number;
  /** How often the certificate is looked at, and how long after a failure the next try comes. */
  checkIntervalSeconds: number;
  retryAfterFailureSeconds: number;
}

export interface AcmeHooks {
  now: () => number;
  onIssued?: (cert: LoadedCertificate, renewal: boolean) => void;
  onError?: (message: string, err: unknown) => void;
}

/** Renewal is due when less than `fraction` of the lifetime remains, or the names changed. */
export function renewalDue(cert: LoadedCertificate, domains: string[], fraction: number, now: number): boolean {
  const missing = domains.some((d) => !cert.names.includes(d.toLowerCase()));
  const lifetime = cert.validTo.getTime() - cert.validFrom.getTime();
  return missing || cert.validTo.getTime() - now < lifetime * fraction;
}

export class AcmeCertificates {
  private readonly dir: string;
  private readonly files: CertificateFiles;
  private readonly tokens = new Map<string, string>();
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Not before this time (ms) after a failure. */
  private nextTry = 0;
  /** The port the HTTP-01 responder listens on (after start). */
  httpPort = 0;

  constructor(dataDir: string, private readonly config: AcmeConfig, private readonly certs: Certificates, private readonly hooks: AcmeHooks) {
    if (config.domains.length === 0) throw new Error('acme.domains names no domain');
    this.dir = join(dataDir, 'tls', 'acme');
    const base = config.domains[0].toLowerCase().replace(/[^a-z0-9.-]/g, '_');
    this.files = { certFile: join(this.dir, `${base}.crt`), keyFile: join(this.dir, `${base}.key`) };
  }

  /** Starts the HTTP-01 responder, serves a certificate obtained before, and checks renewal at once and then periodically. */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.server = createServer((req, res) => {
      const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
      const answer = m ? this.tokens.get(m[1]) : undefined;
      if (answer === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.httpPort, this.config.httpHost, () => resolve());
    });
    this.httpPort = (this.server.address() as AddressInfo).port;
    if (existsSync(this.files.certFile)) {
      const r = this.certs.add(this.files);
      if (r.errors.length) this.hooks.onError?.(`the ACME certificate kept in ${this.dir} does not load: ${r.errors.join('; ')}`, null);
    }
    this.timer = setInterval(() => void this.check(), this.config.checkIntervalSeconds * 1000);
    this.timer.unref();
    void this.check();
  }

  /** The certificate obtained from the CA, if one is in service. */
  current(): LoadedCertificate | null {
    return this.certs.list().find((c) => c.files.certFile === this.files.certFile) ?? null;
  }

  /**
   * Orders a certificate when none is there or renewal is due; one check at a time. Resolves
   * when done (also after a failure, which is reported and retried later).
   */
  check(): Promise<void> {
    this.running ??= this.checkOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async checkOnce(): Promise<void> {
    const now = this.hooks.now();
    const have = this.current();
    if (have && !renewalDue(have, this.config.domains, this.config.renewWhenLeft, now)) return;
    if (now < this.nextTry) return;
    try {
      await this.order();
      const cert = this.current();
      if (cert) this.hooks.onIssued?.(cert, have !== null);
    } catch (err) {
      this.nextTry = now + this.config.retryAfterFailureSeconds * 1000;
      this.hooks.onError?.(`ACME order for ${this.config.domains.join(', ')} failed (next try in ${this.config.retryAfterFailureSeconds} s): ${(err as Error).message}`, err);
    }
  }

  private async order(): Promise<void> {
    if (this.config.directoryCaFile) {
      // acme-client talks through one axios instance: trust the private CA for its requests
      acme.axios.defaults.httpsAgent = new Agent({ ca: readFileSync(this.config.directoryCaFile) });
    }
    const client = new acme.Client({ directoryUrl: this.config.directoryUrl, accountKey: await this.accountKey() });
    const [key, csr] = await acme.crypto.createCsr({ commonName: this.config.domains[0], altNames: this.config.domains });
    const cert = await client.auto({
      csr,
      email: this.config.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // the CA's own check is the one that counts; ours would need the host to reach itself by
      // its public name, which NAT setups often cannot
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        this.tokens.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        this.tokens.delete(challenge.token);
      },
    });
    // key first, then the certificate: a reload between the two sees a mismatch and keeps the old pair
    writeAtomically(this.files.keyFile, key, 0o600);
    writeAtomically(this.files.certFile, cert, 0o644);
    loadCertificate(this.files); // throws if what the CA sent does not load
    const r = this.certs.add(this.files);
    if (r.errors.length) throw new Error(r.errors.join('; '));
  }

  private async accountKey(): Promise<Buffer> {
    const file = join(this.dir, 'account.key');
    if (existsSync(file)) return readFileSync(file);
    const key = await acme.crypto.createPrivateEcdsaKey();
    writeAtomically(file, key, 0o600);
    return key;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function writeAtomically(file: string, content: Buffer | string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}
