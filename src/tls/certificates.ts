import { createSecureContext, type SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, unwatchFile, watchFile } from 'node:fs';

/**
 * The certificates every TLS listener serves, reloaded live (README "Certificates").
 *
 * One set for all listeners (IMAP, POP3, SMTP, HTTPS; implicit TLS and STARTTLS alike):
 *   - a client that sends a server name (SNI) gets the certificate naming it (exact name first,
 *     then a wildcard `*.example.com`), whichever of the loaded certificates holds it;
 *   - a client that sends none (or one nothing names) gets the default: the first certificate of
 *     the configuration, or the data folder's own when none is configured.
 * Files are polled (`fs.watchFile`: it survives certbot's rename-and-symlink swaps that an inotify
 * watch loses) and reloaded when they change; a pair that does not load (half-written, key and
 * certificate not matching) keeps the previous one in service and is reported, so a renewal
 * that goes wrong never takes TLS down. Open connections keep the certificate they started
 * with; only new handshakes see a new one.
 */

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

export interface LoadedCertificate {
  files: CertificateFiles;
  /** DNS names and IP addresses the certificate is valid for (subjectAltName, else the CN). */
  names: string[];
  subject: string;
  issuer: string;
  validFrom: Date;
  validTo: Date;
  /** SHA-256 of the DER certificate, colon-separated hex (what clients show and pin). */
  fingerprint256: string;
  key: string;
  cert: string;
  context: SecureContext;
}

export type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

/** What a TLS server or a socket upgraded by STARTTLS takes: the current default and SNI. */
export interface TlsServerOptions {
  key: string;
  cert: string;
  SNICallback: SniCallback;
}

/** Reads and checks one pair; throws with a message an administrator can act on. */
export function loadCertificate(files: CertificateFiles): LoadedCertificate {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(files.certFile, 'utf8');
    key = readFileSync(files.keyFile, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${(err as NodeJS.ErrnoException).path ?? files.certFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let x509: X509Certificate;
  let context: SecureContext;
  try {
    x509 = new X509Certificate(cert);
    // also checks that the key belongs to the certificate ("key values mismatch")
    context = createSecureContext({ key, cert });
  } catch (err) {
    throw new Error(`${files.certFile} / ${files.keyFile}: ${(err as Error).message}`);
  }
  return {
    files,
    names: certificateNames(x509),
    subject: x509.subject.replace(/\n/g, ', '),
    issuer: x509.issuer.replace(/\n/g, ', '),
    validFrom: new Date(x509.validFrom),
    validTo: new Date(x509.validTo),
    fingerprint256: x509.fingerprint256,
    key,
    cert,
    context,
  };
}

/** subjectAltName DNS names and IP addresses, lower-cased; the subject CN when there is no SAN. */
export function certificateNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName;
  if (san) {
    return san
      .split(', ')
      .map((entry) => /^(DNS|IP Address):(.+)$/.exec(entry))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => m[2].toLowerCase());
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
  return cn ? [cn[1].toLowerCase()] : [];
}

/** Does a certificate name (possibly `*.example.com`) cover this host name? One label only for a wildcard (RFC 6125 6.4.3). */
export function nameMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
}

export interface CertificatesOptions {
  /** The data folder's own pair (made on first run). */
  own: CertificateFiles;
  /** Configured pairs (files of an outside CA, certbot, ACME); the first is the default when present. */
  configured?: CertificateFiles[];
  /** How often the files are looked at; 0 turns watching off. */
  pollMs?: number;
  /** A pair that failed to (re)load: the previous one stays in service. */
  onError?: (message: string) => void;
  /** After every reload that changed what is served. */
  onReload?: (loaded: LoadedCertificate[]) => void;
}

export class Certificates {
  private loaded: LoadedCertificate[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly watched = new Set<string>();
  private configured: CertificateFiles[];
  private readonly pollMs: number;

  /** Passed to TLS servers as is: resolves the name against what is loaded at handshake time. */
  readonly SNICallback: SniCallback = (servername, cb) => cb(null, this.contextFor(servername));

  constructor(private readonly opts: CertificatesOptions) {
    this.configured = [...(opts.configured ?? [])];
    this.pollMs = opts.pollMs ?? 2_000;
    const { errors } = this.reload(true);
    // At start-up a configured pair that does not load is an error: better no server than one
    // that silently serves the wrong certificate.
    if (errors.length > 0) throw new Error(errors.join('; '));
    this.watch();
  }

  /** In service, configured ones first, the data folder's own last. */
  list(): LoadedCertificate[] {
    return [...this.loaded];
  }

  /** The certificate a client that names no host gets. */
  get default(): LoadedCertificate {
    return this.loaded[0];
  }

  get key(): string {
    return this.default.key;
  }

  get cert(): string {
    return this.default.cert;
  }

  /** The certificate for a host name (exact, then wildcard), else the default. */
  certificateFor(servername?: string): LoadedCertificate {
    const host = servername?.toLowerCase().replace(/\.$/, '');
    if (host) {
      const exact = this.loaded.find((c) => c.names.includes(host));
      if (exact) return exact;
      const wild = this.loaded.find((c) => c.names.some((n) => nameMatches(n, host)));
      if (wild) return wild;
    }
    return this.default;
  }

  contextFor(servername?: string): SecureContext {
    return this.certificateFor(servername).context;
  }

  serverOptions(): TlsServerOptions {
    return { key: this.key, cert: this.cert, SNICallback: this.SNICallback };
  }

  /** Calls `fn` after each reload that changed what is served; returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Adds (or replaces, by certificate file) a configured pair: what ACME calls after an order. */
  add(files: CertificateFiles): { changed: boolean; errors: string[] } {
    this.configured = [...this.configured.filter((f) => f.certFile !== files.certFile), files];
    const r = this.reload();
    this.watch();
    return r;
  }

  /**
   * Reads every pair again. A pair that fails keeps its previous version in service (or stays
   * out if it never loaded). Listeners hear of it only when a fingerprint changed.
   */
  reload(initial = false): { changed: boolean; errors: string[] } {
    const errors: string[] = [];
    const next: LoadedCertificate[] = [];
    for (const files of [...this.configured, this.opts.own]) {
      try {
        next.push(loadCertificate(files));
      } catch (err) {
        const message = (err as Error).message;
        errors.push(message);
        this.opts.onError?.(message);
        const previous = this.loaded.find((c) => c.files.certFile === files.certFile);
        if (previous) next.push(previous);
      }
    }
    const fingerprints = (list: LoadedCertificate[]) => list.map((c) => `${c.files.certFile}=${c.fingerprint256}`).join('|');
    const changed = fingerprints(next) !== fingerprints(this.loaded);
    if (next.length === 0) return { changed: false, errors };
    this.loaded = next;
    if (changed && !initial) {
      this.opts.onReload?.(next);
      for (const fn of this.listeners) fn();
    }
    return { changed, errors };
  }

  private watch(): void {
    if (this.pollMs <= 0) return;
    for (const files of [...this.configured, this.opts.own]) {
      for (const file of [files.certFile, files.keyFile]) {
        if (this.watched.has(file)) continue;
        this.watched.add(file);
        // a key and its certificate are usually written one after the other: the first change
        // may see a mismatched pair (reported, old one kept), the second one loads
        watchFile(file, { interval: this.pollMs, persistent: false }, (cur, prev) => {
          // a file that is gone (stat all zeros) is not a new certificate: what is in service stays
          if (cur.nlink === 0 && cur.mtimeMs === 0) return;
          if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size) this.reload();
        });
      }
    }
  }

  close(): void {
    for (const file of this.watched) unwatchFile(file);
    this.watched.clear();
    this.listeners.clear();
  }
}

/** Days until a certificate expires (negative once it has). */
export function daysLeft(cert: LoadedCertificate, now = new Date()): number {
  return (cert.validTo.getTime() - now.getTime()) / 86_400_000;
}

/** Whether a file exists and is not empty (first run: the pair is made only when missing). */
export function nonEmptyFile(path: string): boolean {
  try {
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

/**
 * Keeps a TLS server's default certificate (what clients that send no server name get) the
 * current one; SNI goes through Certificates.SNICallback and is current anyway. Returns the
 * unsubscribe, for the listener's close.
 */
export function followCertificates(server: { setSecureContext(options: { key: string; cert: string }): void }, certs: Certificates): () => void {
  return certs.onChange(() => server.setSecureContext({ key: certs.key, cert: certs.cert }));
}
