import type { ServerContext } from '../server/context.js';
import type { User } from '../store/types.js';

export type Recipient =
  | { kind: 'local'; address: string; user: User }
  | { kind: 'unknown-local'; address: string }
  | { kind: 'remote'; address: string };

// Domains change only when an administrator adds a user; a few seconds of staleness is fine
// and saves a full user scan per RCPT on a server with 100,000 mailboxes.
const DOMAIN_TTL_MS = 10_000;
const domainCache = new WeakMap<ServerContext, { until: number; domains: Promise<Set<string>> }>();

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/** Domains this server receives mail for: the domain of any user's address. */
export function localDomains(ctx: ServerContext): Promise<Set<string>> {
  const now = Date.now();
  const hit = domainCache.get(ctx);
  if (hit && hit.until > now) return hit.domains;
  const domains = ctx.store.listUsers().then((users) => new Set(users.map((u) => domainOf(u.address)).filter(Boolean)));
  domainCache.set(ctx, { until: now + DOMAIN_TTL_MS, domains });
  domains.catch(() => domainCache.delete(ctx));
  return domains;
}

/**
 * Where an envelope address goes. Only full addresses count: store.findUser also resolves a
 * bare alias, which must not make "RCPT TO:<alice>" deliverable.
 */
export async function resolveRecipient(ctx: ServerContext, address: string): Promise<Recipient> {
  const domain = domainOf(address);
  if (!domain || address.indexOf('@') === 0) return { kind: 'unknown-local', address };
  const user = await ctx.store.findUser(address);
  if (user) return { kind: 'local', address, user };
  const local = await localDomains(ctx);
  if (!local.has(domain)) return { kind: 'remote', address };
  // RFC 5321 4.5.1: postmaster at every local domain must be deliverable.
  if (address.slice(0, address.lastIndexOf('@')).toLowerCase() === 'postmaster') {
    const admin = (await ctx.store.listUsers()).find((u) => u.isAdmin);
    if (admin) return { kind: 'local', address, user: admin };
  }
  return { kind: 'unknown-local', address };
}

/** Whether `address` is one of `user`'s own addresses (primary or alias). */
export async function ownsAddress(ctx: ServerContext, user: User, address: string): Promise<boolean> {
  if (!address.includes('@')) return false;
  const owner = await ctx.store.findUser(address);
  return owner?.id === user.id;
}
