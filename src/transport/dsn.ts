import { randomBytes } from 'node:crypto';
import libmime from 'libmime';
import { scanHeader } from '../mime/headers.js';
import { decodeHeaderValue, headerValues } from '../mime/search-text.js';
import type { ServerContext } from '../server/context.js';
import { oneLine } from './replies.js';

export interface DsnFailure {
  recipient: string;
  /** RFC 3463 status, e.g. 5.1.1 */
  status: string;
  /** The remote (or our own) reply, e.g. "550 5.1.1 no such user" */
  diagnostic: string;
}

export interface DsnInput {
  sender: string;
  failures: DsnFailure[];
  original: Buffer;
  arrivalDate?: Date;
}

// Bigger originals are returned as headers only (RFC 3464 allows text/rfc822-headers), so a
// bounce of a 30 MB attachment does not fill the sender's mailbox a second time.
const FULL_ORIGINAL_MAX = 256 * 1024;

/** RFC 5322 date with a numeric zone. */
export function rfc5322Date(d = new Date()): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** An RFC 3464 multipart/report for failed recipients (Action: failed). */
export function buildDsn(ctx: ServerContext, input: DsnInput): Buffer {
  const mta = ctx.computer;
  const boundary = `mw-dsn-${randomBytes(12).toString('hex')}`;
  const subject = decodeHeaderValue(headerValues(input.original, 'subject')[0] ?? '').trim();
  const now = new Date();
  const human = [
    `Your message could not be delivered to ${input.failures.length === 1 ? 'this recipient' : 'these recipients'}:`,
    '',
    ...input.failures.map((f) => `  <${f.recipient}>: ${oneLine(f.diagnostic, 400)}`),
    '',
    `Reported by ${mta}.`,
  ].join('\r\n');
  const perRecipient = input.failures.map((f) =>
    [
      `Final-Recipient: rfc822; ${f.recipient}`,
      'Action: failed',
      `Status: ${f.status}`,
      `Diagnostic-Code: smtp; ${oneLine(f.diagnostic, 400)}`,
      `Last-Attempt-Date: ${rfc5322Date(now)}`,
    ].join('\r\n'),
  );
  const status = [`Reporting-MTA: dns; ${mta}`, `Arrival-Date: ${rfc5322Date(input.arrivalDate ?? now)}`].join('\r\n') + '\r\n\r\n' + perRecipient.join('\r\n\r\n');
  const full = input.original.length <= FULL_ORIGINAL_MAX;
  const head = scanHeader(input.original, 0, input.original.length);
  const returned = full ? input.original : input.original.subarray(0, head.end);
  const header = [
    `From: Mail Delivery System <MAILER-DAEMON@${mta}>`,
    `To: <${input.sender}>`,
    `Subject: ${libmime.encodeWords(`Undeliverable: ${oneLine(subject, 120)}`, 'B', 52)}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${randomBytes(16).toString('hex')}@${mta}>`,
    // RFC 3834: tells vacation responders and other robots not to answer this.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ].join('\r\n');
  const text = [
    header,
    '',
    'This is a delivery status notification (RFC 3464).',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    human,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    status,
    '',
    `--${boundary}`,
    `Content-Type: ${full ? 'message/rfc822' : 'text/rfc822-headers'}`,
    // RFC 2046 5.2.1: message/rfc822 may be 8bit, and must say so when it is.
    ...(returned.some((b) => b > 0x7f) ? ['Content-Transfer-Encoding: 8bit'] : []),
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(text, 'utf8'), returned, Buffer.from(`${returned.subarray(-2).toString() === '\r\n' ? '' : '\r\n'}--${boundary}--\r\n`)]);
}

/**
 * Returns a DSN to the envelope sender: straight into a local sender's Inbox, through the
 * outbound queue (with the null sender, so it can never bounce back) for a remote one.
 * The null sender itself gets nothing (RFC 5321 4.5.5: never answer a bounce with a bounce).
 */
export async function sendDsn(ctx: ServerContext, input: DsnInput): Promise<'inbox' | 'queued' | 'dropped' | 'over-quota'> {
  if (!input.sender || input.failures.length === 0) return 'dropped';
  const raw = buildDsn(ctx, input);
  const user = await ctx.store.findUser(input.sender);
  if (user && input.sender.includes('@')) {
    const { overQuota } = await ctx.store.deliver([user.id], Buffer.concat([Buffer.from('Return-Path: <>\r\n'), raw]));
    // The quota holds for notifications too (the store enforces it inside the write); a full
    // mailbox cannot take its own bounce, which the caller logs rather than retrying for ever.
    return overQuota.length > 0 ? 'over-quota' : 'inbox';
  }
  await ctx.store.enqueue('', [input.sender], raw, null);
  return 'queued';
}

/**
 * sendDsn for callers that already delivered or relayed the message: a DSN that cannot be
 * stored must not turn into an error, since the client (or the queue) would then send the
 * message again to the recipients that already have it. The loss is logged.
 */
export async function sendDsnSafely(ctx: ServerContext, input: DsnInput): Promise<void> {
  try {
    const outcome = await sendDsn(ctx, input);
    if (outcome === 'over-quota') {
      ctx.metrics.countDelivery('dsn-lost');
      ctx.log.warn({ sender: input.sender, recipients: input.failures.map((f) => f.recipient) }, 'DSN not stored: the sender\'s mailbox is over its quota');
    } else if (outcome !== 'dropped') ctx.metrics.countDelivery('dsn-sent');
  } catch (err) {
    ctx.metrics.countDelivery('dsn-lost');
    ctx.log.error({ err, sender: input.sender, recipients: input.failures.map((f) => f.recipient) }, 'DSN lost');
  }
}
