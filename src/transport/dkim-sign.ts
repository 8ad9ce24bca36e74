import { parseAddressList } from '../mime/address.js';
import { headerValues } from '../mime/search-text.js';
import type { ServerContext } from '../server/context.js';
import { DkimKeyring } from './dkim-keys.js';

const keyrings = new WeakMap<object, DkimKeyring>();

/** The keyring of the server's data folder (one per context, made at first use). */
export function keyringOf(ctx: Pick<ServerContext, 'dataDir' | 'store'>): DkimKeyring {
  let k = keyrings.get(ctx.store);
  if (!k) keyrings.set(ctx.store, (k = new DkimKeyring(ctx.dataDir)));
  return k;
}

/** The domain of the (first) From: address, lower case; '' when there is none. */
export function fromDomain(raw: Buffer): string {
  const from = headerValues(raw, 'from')[0];
  if (!from) return '';
  const a = parseAddressList(from).find((x) => x.host && x.mailbox);
  return a?.host?.toLowerCase().replace(/^\[.*\]$/, '') ?? '';
}

/**
 * DKIM-signs an outbound message with the active keys of its From: domain (the domain DMARC
 * aligns with), relaxed/relaxed, over mailauth's default header list. A message whose domain
 * has no key goes out unsigned. A signing error is logged and the message goes out unsigned:
 * an unsigned message may still be delivered, a queue that stops on a bad key delivers nothing.
 */
export async function signOutbound(ctx: Pick<ServerContext, 'dataDir' | 'store' | 'log'>, raw: Buffer, now = new Date()): Promise<Buffer> {
  const domain = fromDomain(raw);
  if (!domain) return raw;
  const keys = keyringOf(ctx).signingKeys(domain);
  if (keys.length === 0) return raw;
  // loaded at the first message to sign: mailauth takes long to load and most servers start without keys
  const { dkimSign } = await import('mailauth/lib/dkim/sign.js');
  const r = await dkimSign(raw, {
    signingDomain: domain, selector: keys[0].selector, privateKey: keys[0].privateKey,
    canonicalization: 'relaxed/relaxed', signTime: now,
    signatureData: keys.map((k) => ({ signingDomain: k.domain, selector: k.selector, privateKey: k.privateKey, algorithm: k.algorithm })),
  });
  if (r.errors.length) ctx.log.error({ domain, errors: r.errors.map((e) => e.message) }, 'DKIM signing failed; the message goes out unsigned');
  if (!r.signatures.trim()) return raw;
  return Buffer.concat([Buffer.from(r.signatures.replace(/\r?\n/g, '\r\n')), raw]);
}
