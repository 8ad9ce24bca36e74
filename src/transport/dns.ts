import { promises as dns } from 'node:dns';
import type { ServerContext } from '../server/context.js';

/**
 * The DNS lookups of the transport (SPF, DKIM keys, DMARC policies, MX/A/AAAA for delivery),
 * through one resolver: the system's, or the config's `dns.servers`. Answers and failures are
 * kept for a minute (at most CACHE_SIZE names), so that a burst from one sender domain does not
 * ask the same questions per message. The function has the shape mailauth's `resolver` takes
 * (that of dns.promises.resolve).
 */
export type DnsLookup = (name: string, rrtype: string) => Promise<unknown>;

const TTL_MS = 60_000;
const CACHE_SIZE = 10_000;

const lookups = new WeakMap<object, DnsLookup>();

export function dnsLookupOf(ctx: Pick<ServerContext, 'config' | 'store'>): DnsLookup {
  let l = lookups.get(ctx.store);
  if (!l) lookups.set(ctx.store, (l = makeLookup(ctx.config.dns?.servers)));
  return l;
}

export function makeLookup(servers?: string[], now: () => number = Date.now): DnsLookup {
  // 2 s a try, 2 tries: a dead resolver costs a message 4 s per lookup at worst, not c-ares' 5 × 4 tries
  const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
  if (servers?.length) resolver.setServers(servers);
  const cache = new Map<string, { at: number; value?: unknown; error?: unknown }>();
  return async (name, rrtype) => {
    const key = `${rrtype} ${name.toLowerCase()}`;
    const hit = cache.get(key);
    if (hit && now() - hit.at < TTL_MS) {
      if (hit.error) throw hit.error;
      return hit.value;
    }
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    try {
      const value = await resolver.resolve(name, rrtype as 'TXT');
      cache.set(key, { at: now(), value });
      return value;
    } catch (error) {
      // A timeout or refused query is not remembered: the next message asks again.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') cache.set(key, { at: now(), error });
      throw error;
    }
  };
}
