import { isIP } from 'node:net';
import type { ServerContext } from '../server/context.js';
import type { QueueDsn } from '../store/types.js';
import { dnsLookupOf, type DnsLookup } from './dns.js';
import { domainOf } from './recipients.js';
import { sendOnce, type Outcome } from './smtp-send.js';
import { mxAllowed, stsPolicy, trustedCas } from './mta-sts.js';

/** Where mail for a domain goes (RFC 5321 5.1), or why it cannot go anywhere. */
export type MxRoute =
  | { kind: 'hosts'; hosts: string[] }
  | { kind: 'perm' | 'temp'; reply: string };

const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? '';

/**
 * The hosts to try for `domain`, most preferred first (equal preferences in random order, as
 * RFC 5321 5.1 asks, so that load spreads). No MX records but the name exists: the domain itself
 * (the "implicit MX"). A null MX (RFC 7505: one record, "."): the domain takes no mail.
 */
export async function mxRoute(lookup: DnsLookup, domain: string, random: () => number = Math.random): Promise<MxRoute> {
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = (await lookup(domain, 'MX')) as typeof records;
  } catch (err) {
    if (code(err) === 'ENODATA') return { kind: 'hosts', hosts: [domain] };
    if (code(err) === 'ENOTFOUND') return { kind: 'perm', reply: `550 5.1.2 ${domain}: no such domain (DNS)` };
    return { kind: 'temp', reply: `451 4.4.3 ${domain}: MX lookup failed (${code(err) || (err as Error).message})` };
  }
  if (records.length === 0) return { kind: 'hosts', hosts: [domain] };
  if (records.some((r) => r.exchange === '' || r.exchange === '.')) return { kind: 'perm', reply: `556 5.1.10 ${domain} accepts no mail (null MX, RFC 7505)` };
  const keyed = records.map((r) => ({ host: r.exchange.replace(/\.$/, ''), priority: r.priority, tie: random() }));
  keyed.sort((a, b) => a.priority - b.priority || a.tie - b.tie);
  return { kind: 'hosts', hosts: [...new Set(keyed.map((k) => k.host))] };
}

/** A host's addresses, IPv6 first then IPv4 (each as DNS gave them); none when both lookups fail. */
export async function addressesOf(lookup: DnsLookup, host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  const [v6, v4] = await Promise.all([lookup(host, 'AAAA').catch(() => []), lookup(host, 'A').catch(() => [])]);
  return [...(v6 as string[]), ...(v4 as string[])];
}

/**
 * Delivers one queued message to remote recipients directly, domain by domain: every address of
 * every MX host in preference order until one gives a verdict; STARTTLS whenever offered
 * (opportunistic, RFC 3207: the certificate is not checked, since an MX name rarely matches
 * it and refusing would only send the message in clear text elsewhere). The port is 25, or
 * smtp.deliveryPort (tests: receivers on loopback cannot all have port 25).
 */
export async function deliverByMx(ctx: ServerContext, sender: string, recipients: string[], raw: Buffer, dsn?: QueueDsn | null): Promise<{ outcomes: Map<string, Outcome>; via: string[] }> {
  const lookup = dnsLookupOf(ctx);
  const port = ctx.config.smtp.deliveryPort;
  const byDomain = new Map<string, string[]>();
  for (const r of recipients) byDomain.set(domainOf(r), [...(byDomain.get(domainOf(r)) ?? []), r]);
  const outcomes = new Map<string, Outcome>();
  const via: string[] = [];
  for (const [domain, rcpts] of byDomain) {
    const route = await mxRoute(lookup, domain);
    if (route.kind !== 'hosts') {
      for (const r of rcpts) outcomes.set(r, route);
      continue;
    }
    const tried: string[] = [];
    let answered: Map<string, Outcome> | null = null;
    // MTA-STS enforce (RFC 8461 5.1): only the policy's MX hosts, only over TLS with a
    // certificate valid for the MX name; a host that fails that is skipped like a dead one.
    const policy = await stsPolicy(ctx, domain);
    const enforce = policy?.mode === 'enforce';
    for (const host of route.hosts) {
      if (enforce && !mxAllowed(policy, host)) {
        tried.push(`${host}: not an MX host of ${domain}'s MTA-STS policy`);
        continue;
      }
      const addresses = await addressesOf(lookup, host);
      if (addresses.length === 0) tried.push(`${host}: no address`);
      for (const address of addresses) {
        const tls = enforce
          ? { servername: host, rejectUnauthorized: true, ca: trustedCas(ctx) }
          : { servername: isIP(host) ? undefined : host, rejectUnauthorized: false };
        const r = await sendOnce({ host: address, port, name: ctx.computer, requireTLS: enforce, tls }, sender, rcpts, raw, dsn);
        if (r instanceof Map) {
          answered = r;
          via.push(`${host} [${address}]:${port}`);
          break;
        }
        tried.push(`${host} [${address}]: ${r.unreachable}`);
      }
      if (answered) break;
    }
    const fail: Outcome = { kind: 'temp', reply: `451 4.4.1 no MX host of ${domain} answered${enforce ? ' (MTA-STS enforce: TLS with a valid certificate required)' : ''}: ${tried.join('; ').slice(0, 400)}` };
    for (const r of rcpts) outcomes.set(r, answered?.get(r) ?? fail);
  }
  return { outcomes, via };
}
