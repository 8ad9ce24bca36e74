import https from 'node:https';
import { rootCertificates } from 'node:tls';
// mailauth's policy record and file parsers (loaded at first use); the fetch is ours, so that the
// resolver, trusted CAs and port come from the server's configuration (mailauth's fetchPolicy
// uses the system's), and so is the MX match (mailauth's lets "*." match several labels).
const stsLib = () => import('mailauth/lib/mta-sts.js');
import type { ServerContext } from '../server/context.js';
import { dnsLookupOf, type DnsLookup } from './dns.js';

/** A domain's MTA-STS policy (RFC 8461) as this server applies it. */
export interface StsPolicy {
  id: string;
  mode: 'enforce' | 'testing' | 'none';
  mx: string[];
  /** ms since the epoch */
  expires: number;
}

const MAX_POLICY_BYTES = 64 * 1024; // RFC 8461 3.3: senders may limit the size; 64 KB is generous

const caches = new WeakMap<object, Map<string, StsPolicy>>();

/** The trust for MTA-STS: the system's roots plus smtp.trustedCa of the config. */
export function trustedCas(ctx: Pick<ServerContext, 'config'>): string[] {
  const extra = ctx.config.smtp.trustedCa;
  return extra ? [...rootCertificates, extra] : [...rootCertificates];
}

function fetchText(ctx: Pick<ServerContext, 'config'>, address: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: address, servername, port: ctx.config.smtp.mtaStsPort, path: '/.well-known/mta-sts.txt',
        headers: { host: servername }, ca: trustedCas(ctx), rejectUnauthorized: true, timeout: 15_000, agent: false,
      },
      (res) => {
        // RFC 8461 3.3: a 200 only, no redirects followed
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`HTTP ${res.statusCode} from https://${servername}/.well-known/mta-sts.txt`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_POLICY_BYTES) req.destroy(new Error('MTA-STS policy too large'));
          else chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('MTA-STS policy fetch timed out')));
    req.on('error', reject);
  });
}

async function fetchPolicy(ctx: Pick<ServerContext, 'config'>, lookup: DnsLookup, domain: string, id: string): Promise<StsPolicy> {
  const servername = `mta-sts.${domain}`;
  const addresses = [...((await lookup(servername, 'A').catch(() => [])) as string[]), ...((await lookup(servername, 'AAAA').catch(() => [])) as string[])];
  if (addresses.length === 0) throw new Error(`${servername} has no address`);
  const { parsePolicy } = await stsLib();
  const p = parsePolicy(await fetchText(ctx, addresses[0], servername)) as { mode: StsPolicy['mode']; mx?: string[]; maxAge?: number };
  return { id, mode: p.mode, mx: p.mx ?? [], expires: Date.now() + (p.maxAge ?? 86_400) * 1000 };
}

/**
 * The policy in force for `domain`, or null (no policy: opportunistic TLS). A policy is cached
 * until its max_age, and fetched again when the id in `_mta-sts.DOMAIN` changes; when a fetch
 * fails a cached policy stays in force (RFC 8461 5), and without one the domain has none.
 */
export async function stsPolicy(ctx: Pick<ServerContext, 'config' | 'store' | 'log'>, domain: string): Promise<StsPolicy | null> {
  const lookup = dnsLookupOf(ctx);
  let cache = caches.get(ctx.store);
  if (!cache) caches.set(ctx.store, (cache = new Map()));
  const cached = cache.get(domain);
  let id: string | false;
  try {
    const { resolvePolicy } = await stsLib();
    id = await resolvePolicy(domain, { resolver: lookup as never });
  } catch {
    id = false;
  }
  if (cached && cached.expires > Date.now() && (!id || id === cached.id)) return cached;
  if (!id) return cached && cached.expires > Date.now() ? cached : null;
  try {
    const policy = await fetchPolicy(ctx, lookup, domain, id);
    cache.set(domain, policy);
    return policy;
  } catch (err) {
    ctx.log.warn({ domain, err: (err as Error).message }, 'MTA-STS policy could not be fetched');
    return cached && cached.expires > Date.now() ? cached : null;
  }
}

/** Whether `mx` is one of the policy's allowed MX hosts (RFC 8461 4.1: "*." stands for exactly one leftmost label). */
export function mxAllowed(policy: StsPolicy, mx: string): boolean {
  const host = mx.toLowerCase().replace(/\.$/, '');
  return policy.mx.some((pattern) => {
    const p = pattern.trim().toLowerCase().replace(/\.$/, '');
    if (!p.startsWith('*.')) return p === host;
    const suffix = p.slice(1); // ".example.com"
    const label = host.slice(0, host.length - suffix.length);
    return host.endsWith(suffix) && label.length > 0 && !label.includes('.');
  });
}
