import type { ServerContext } from '../server/context.js';
import type { User } from '../store/types.js';

export type Recipient =
  | { kind: 'local'; address: string; user: User }
  | { kind: 'unknown-local'; address: string }
  | { kind: 'remote'; address: string };

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
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
  // one indexed lookup: no cache, so a domain is local from the moment its first user exists
  if (!(await ctx.store.isLocalDomain(domain))) return { kind: 'remote', address };
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
