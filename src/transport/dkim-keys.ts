import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * DKIM keys per domain (RFC 6376), kept in the data folder beside the TLS key:
 * `DATA/dkim/keys.json` lists them (domain, selector, algorithm, state), each private key is
 * `DATA/dkim/<domain>/<selector>.pem` (mode 0600). The CLI writes, the running server reads
 * (again whenever keys.json changes), so a new or activated key applies without a restart.
 *
 * States: `active` keys sign (one per domain and algorithm; a domain with an RSA and an
 * Ed25519 key signs twice, as RFC 8463 advises while verifiers without Ed25519 remain);
 * `pending` keys wait for their DNS record to be published (`dkim activate`); `retired`
 * keys sign nothing but stay listed until their record can go (`dkim remove`).
 */
export const DKIM_ALGORITHMS = ['rsa-sha256', 'ed25519-sha256'] as const;
export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number];
export type DkimKeyState = 'active' | 'pending' | 'retired';

export interface DkimKeyInfo {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  state: DkimKeyState;
  created: string;
  /** The DNS TXT record's value: v=DKIM1; k=…; p=… */
  record: string;
}

export interface DkimSigningKey extends DkimKeyInfo {
  privateKey: string;
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const SELECTOR = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export class DkimKeyError extends Error {}

const dirOf = (dataDir: string) => join(dataDir, 'dkim');
const listFile = (dataDir: string) => join(dirOf(dataDir), 'keys.json');
const keyFile = (dataDir: string, domain: string, selector: string) => join(dirOf(dataDir), domain, `${selector}.pem`);

export function listDkimKeys(dataDir: string): DkimKeyInfo[] {
  const file = listFile(dataDir);
  if (!existsSync(file)) return [];
  return JSON.parse(readFileSync(file, 'utf8')) as DkimKeyInfo[];
}

function saveList(dataDir: string, keys: DkimKeyInfo[]): void {
  mkdirSync(dirOf(dataDir), { recursive: true, mode: 0o700 });
  const tmp = `${listFile(dataDir)}.tmp`;
  writeFileSync(tmp, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, listFile(dataDir)); // whole or not at all for a server reading it meanwhile
}

/** The TXT record value for a public key (RFC 6376 3.6.1; Ed25519: RFC 8463 4, the raw 32 bytes). */
export function dkimRecord(algorithm: DkimAlgorithm, privateKeyPem: string): string {
  const pub = createPublicKey(privateKeyPem);
  if (algorithm === 'rsa-sha256') return `v=DKIM1; k=rsa; p=${pub.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  const raw = Buffer.from(pub.export({ format: 'jwk' }).x as string, 'base64url');
  return `v=DKIM1; k=ed25519; p=${raw.toString('base64')}`;
}

/** A zone-file line, the value cut into strings of at most 255 octets (RFC 1035 3.3.14). */
export function zoneLine(key: Pick<DkimKeyInfo, 'domain' | 'selector' | 'record'>): string {
  const parts = key.record.match(/.{1,250}/g) ?? [];
  return `${key.selector}._domainkey.${key.domain}. IN TXT ( ${parts.map((p) => `"${p}"`).join(' ')} )`;
}

export function normaliseDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(d)) throw new DkimKeyError(`not a domain name: ${domain}`);
  return d;
}

export function defaultSelector(algorithm: DkimAlgorithm, now = new Date()): string {
  const ym = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  return algorithm === 'rsa-sha256' ? `mw${ym}r` : `mw${ym}e`;
}

/**
 * Makes a key. It is active at once when the domain has no active key of that algorithm
 * (nothing was signed before, so nothing can break); otherwise pending until `activateDkimKey`,
 * so that a rotation signs with the new key only after its record is published.
 */
export function createDkimKey(dataDir: string, opts: { domain: string; selector?: string; algorithm?: DkimAlgorithm; bits?: number }): DkimKeyInfo {
  const domain = normaliseDomain(opts.domain);
  const algorithm = opts.algorithm ?? 'rsa-sha256';
  const selector = (opts.selector ?? defaultSelector(algorithm)).toLowerCase();
  if (!SELECTOR.test(selector)) throw new DkimKeyError(`not a selector (letters, digits, hyphens, dots): ${opts.selector}`);
  const keys = listDkimKeys(dataDir);
  if (keys.some((k) => k.domain === domain && k.selector === selector)) throw new DkimKeyError(`${domain} already has a key with selector ${selector}`);
  const bits = opts.bits ?? 2048;
  if (algorithm === 'rsa-sha256' && (bits < 1024 || bits > 4096)) throw new DkimKeyError('RSA keys are 1024 to 4096 bits (2048 advised)');
  const { privateKey } =
    algorithm === 'rsa-sha256'
      ? generateKeyPairSync('rsa', { modulusLength: bits, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
      : generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  mkdirSync(join(dirOf(dataDir), domain), { recursive: true, mode: 0o700 });
  const file = keyFile(dataDir, domain, selector);
  writeFileSync(file, privateKey, { mode: 0o600 });
  chmodSync(file, 0o600);
  const active = keys.some((k) => k.domain === domain && k.algorithm === algorithm && k.state === 'active');
  const info: DkimKeyInfo = { domain, selector, algorithm, state: active ? 'pending' : 'active', created: new Date().toISOString(), record: dkimRecord(algorithm, privateKey) };
  saveList(dataDir, [...keys, info]);
  return info;
}

function find(keys: DkimKeyInfo[], domain: string, selector: string): DkimKeyInfo {
  const d = normaliseDomain(domain);
  const k = keys.find((x) => x.domain === d && x.selector === selector.toLowerCase());
  if (!k) throw new DkimKeyError(`no DKIM key ${selector} for ${d}`);
  return k;
}

/** Makes the key the one that signs for its domain and algorithm; the one before is retired. */
export function activateDkimKey(dataDir: string, domain: string, selector: string): DkimKeyInfo {
  const keys = listDkimKeys(dataDir);
  const k = find(keys, domain, selector);
  for (const other of keys) if (other !== k && other.domain === k.domain && other.algorithm === k.algorithm && other.state === 'active') other.state = 'retired';
  k.state = 'active';
  saveList(dataDir, keys);
  return k;
}

/** Deletes a key that no longer signs (retire it first by activating its successor). */
export function removeDkimKey(dataDir: string, domain: string, selector: string, force = false): DkimKeyInfo {
  const keys = listDkimKeys(dataDir);
  const k = find(keys, domain, selector);
  if (k.state === 'active' && !force) throw new DkimKeyError(`${k.selector} signs ${k.domain}'s mail now; activate its successor first (or --force to stop signing)`);
  saveList(dataDir, keys.filter((x) => x !== k));
  rmSync(keyFile(dataDir, k.domain, k.selector), { force: true });
  return k;
}

/**
 * The running server's view: active keys per domain, read again when keys.json changes
 * (one stat per lookup), so that the CLI's changes apply without a restart.
 */
export class DkimKeyring {
  private stamp = '';
  private byDomain = new Map<string, DkimSigningKey[]>();

  constructor(private readonly dataDir: string) {}

  /** The keys that sign mail From: `domain` now (empty: do not sign). */
  signingKeys(domain: string): DkimSigningKey[] {
    this.reloadIfChanged();
    return this.byDomain.get(domain.toLowerCase()) ?? [];
  }

  private reloadIfChanged(): void {
    let stamp = '';
    try {
      const s = statSync(listFile(this.dataDir));
      stamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      stamp = 'none';
    }
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    const map = new Map<string, DkimSigningKey[]>();
    for (const k of stamp === 'none' ? [] : listDkimKeys(this.dataDir)) {
      if (k.state !== 'active') continue;
      const privateKey = readFileSync(keyFile(this.dataDir, k.domain, k.selector), 'utf8');
      map.set(k.domain, [...(map.get(k.domain) ?? []), { ...k, privateKey }]);
    }
    this.byDomain = map;
  }
}
