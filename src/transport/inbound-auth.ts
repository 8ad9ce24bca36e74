import { scanHeader } from '../mime/headers.js';
import type { ServerContext } from '../server/context.js';
import { dnsLookupOf } from './dns.js';

/** What a message failing DMARC under its domain's p=reject gets (SmtpSettings.DmarcRejectAction). */
export const DMARC_REJECT_ACTIONS = ['Reject', 'Junk', 'HeaderOnly'] as const;
export type DmarcRejectAction = (typeof DMARC_REJECT_ACTIONS)[number];

export interface InboundCheck {
  /** Received-SPF and Authentication-Results (RFC 8601) header lines to put in front, CRLF-terminated. */
  header: string;
  /** deliver: Inbox; junk: the Junk Email folder; reject: refuse with 550 5.7.1. */
  verdict: 'deliver' | 'junk' | 'reject';
  /** Why, for the log and the refusal text. */
  reason: string;
  results: { spf: string; dkim: string[]; dmarc: string; arc: string; dmarcPolicy: string };
}

/** Loads mailauth's modules ahead of the first check (the port 25 listener does, once started). */
export async function preloadInboundChecks(): Promise<void> {
  await import('mailauth').catch(() => undefined); // a failure shows at the first check, with its message
}

/**
 * SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC (RFC 8617) of a message that
 * arrived on port 25, by mailauth, with the server's resolver. The verdict follows the
 * sender domain's DMARC policy on failure: p=reject → SmtpSettings.DmarcRejectAction,
 * p=quarantine → Junk (HeaderOnly keeps it in the Inbox), p=none → delivered, with the header.
 * pct= is honoured by sampling, as RFC 7489 6.6.4 asks.
 */
export async function checkInbound(
  ctx: Pick<ServerContext, 'config' | 'store' | 'computer' | 'settings'>,
  input: { raw: Buffer; ip: string; helo: string; sender: string },
  random: () => number = Math.random,
): Promise<InboundCheck> {
  // loaded when the port 25 listener starts (preloadInboundChecks), not when the CLI starts: mailauth's
  // modules take long to load (seconds on a busy machine); here a cached import
  const { authenticate } = await import('mailauth');
  // Only DKIM and ARC signatures cover the body. Without them every result comes from the
  // envelope and the header, so mailauth gets the header alone and does not parse (and
  // canonicalise) a body whose hash nothing would compare: most of its cost per message.
  const head = scanHeader(input.raw, 0, input.raw.length);
  const signed = head.fields.some((f) => f.lname === 'dkim-signature' || f.lname === 'arc-message-signature');
  const r = await authenticate(signed ? input.raw : input.raw.subarray(0, head.end), {
    ip: input.ip, helo: input.helo, sender: input.sender, mta: ctx.computer,
    resolver: dnsLookupOf(ctx) as never, disableBimi: true,
  });
  const header = r.headers.replace(/\r?\n/g, '\r\n');
  const dmarc = r.dmarc || null;
  const results = {
    spf: r.spf ? r.spf.status.result : 'none',
    dkim: r.dkim.results.map((x) => x.status.result),
    dmarc: dmarc ? dmarc.status.result : 'none',
    arc: r.arc ? r.arc.status.result : 'none',
    dmarcPolicy: dmarc ? dmarc.policy : 'none',
  };
  const base = { header, results };
  if (!dmarc || dmarc.status.result !== 'fail') return { ...base, verdict: 'deliver', reason: `dmarc=${results.dmarc}` };
  const sampled = dmarc.pct === undefined || random() * 100 < dmarc.pct;
  const action = ctx.settings.str('SmtpSettings.DmarcRejectAction') as DmarcRejectAction;
  const why = `DMARC policy of ${dmarc.domain} (p=${dmarc.policy}) failed: neither SPF nor DKIM passed for the From: domain`;
  if (!sampled || action === 'HeaderOnly' || dmarc.policy === 'none') return { ...base, verdict: 'deliver', reason: why };
  if (dmarc.policy === 'reject' && action === 'Reject') return { ...base, verdict: 'reject', reason: why };
  return { ...base, verdict: 'junk', reason: why };
}

/**
 * The message without Authentication-Results fields that claim to come from this server
 * (RFC 8601 5: a sender could otherwise forge our verdict); other servers' fields stay.
 */
export function withoutOurResults(raw: Buffer, authservId: string): Buffer {
  const head = scanHeader(raw, 0, raw.length);
  const id = authservId.toLowerCase();
  const ours = head.fields.filter((f) => {
    if (f.lname !== 'authentication-results') return false;
    const v = raw.subarray(f.valueStart, f.end).toString('latin1').trim().toLowerCase();
    return v === id || v.startsWith(`${id};`) || v.startsWith(`${id} `) || v.startsWith(`${id}\r`) || v.startsWith(`${id}\n`) || v.startsWith(`${id}\t`);
  });
  if (ours.length === 0) return raw;
  const keep: Buffer[] = [];
  let pos = 0;
  for (const f of ours) {
    keep.push(raw.subarray(pos, f.start));
    pos = f.end;
  }
  keep.push(raw.subarray(pos));
  return Buffer.concat(keep);
}
