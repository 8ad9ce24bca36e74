import { randomBytes } from 'node:crypto';
import libmime from 'libmime';
import { scanHeader } from '../mime/headers.js';
import { decodeHeaderValue, headerValues } from '../mime/search-text.js';
import type { ServerContext } from '../server/context.js';
import { oneLine } from './replies.js';
import { recipientDsn, wantsNotice } from './dsn-params.js';
import type { QueueDsn } from '../store/types.js';

/** RFC 3464 2.3.3 actions; 'failed' is a bounce, the others are notices the sender asked for (RFC 3461 NOTIFY). */
export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed';

/** What a DSN says about one recipient. */
export interface DsnReport {
  recipient: string;
  /** RFC 3463 status, e.g. 5.1.1 */
  status: string;
  /** The remote (or our own) reply, e.g. "550 5.1.1 no such user" */
  diagnostic: string;
  /** RFC 3461 ORCPT as the client gave it ("rfc822;addr", decoded): the Original-Recipient field. */
  orcpt?: string | null;
}

export interface DsnInput {
  sender: string;
  /** One kind of notice per DSN (a bounce and a delay warning are separate messages); failed when left out. */
  action?: DsnAction;
  reports: DsnReport[];
  original: Buffer;
  arrivalDate?: Date;
  /** RFC 3461 ENVID (decoded): the Original-Envelope-Id field. */
  envid?: string | null;
  /** RFC 3461 RET: HDRS returns the header only; left out: the whole message for a bounce, the header for a notice. */
  ret?: 'FULL' | 'HDRS' | null;
  /** Delayed: when the queue gives up (RFC 3464 2.3.8 Will-Retry-Until). */
  willRetryUntil?: Date;
  /** The DSN's own time (tests inject the queue's clock). */
  now?: Date;
}

// Bigger originals are returned as headers only (RFC 3464 allows text/rfc822-headers), so a
// bounce of a 30 MB attachment does not fill the sender's mailbox a second time.
const FULL_ORIGINAL_MAX = 256 * 1024;

/** RFC 5322 date with a numeric zone. */
export function rfc5322Date(d = new Date()): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

const WORDING: Record<DsnAction, { subject: string; one: string; many: string }> = {
  failed: { subject: 'Undeliverable', one: 'Your message could not be delivered to this recipient:', many: 'Your message could not be delivered to these recipients:' },
  delayed: {
    subject: 'Delayed',
    one: 'Your message has not been delivered to this recipient yet; delivery is still being tried:',
    many: 'Your message has not been delivered to these recipients yet; delivery is still being tried:',
  },
  delivered: { subject: 'Delivered', one: 'Your message was delivered to this recipient:', many: 'Your message was delivered to these recipients:' },
  relayed: {
    subject: 'Relayed',
    one: 'Your message was handed to a server that sends no delivery notifications, so this is the last one you get for this recipient:',
    many: 'Your message was handed to a server that sends no delivery notifications, so this is the last one you get for these recipients:',
  },
};

/** An RFC 3464 multipart/report: a bounce (Action: failed) or a notice (delayed, delivered, relayed). */
export function buildDsn(ctx: ServerContext, input: DsnInput): Buffer {
  const mta = ctx.computer;
  const action = input.action ?? 'failed';
  const words = WORDING[action];
  const boundary = `mw-dsn-${randomBytes(12).toString('hex')}`;
  const subject = decodeHeaderValue(headerValues(input.original, 'subject')[0] ?? '').trim();
  const now = input.now ?? new Date();
  const human = [
    input.reports.length === 1 ? words.one : words.many,
    '',
    ...input.reports.map((f) => `  <${f.recipient}>: ${oneLine(f.diagnostic, 400)}`),
    '',
    `Reported by ${mta}.`,
  ].join('\r\n');
  const perRecipient = input.reports.map((f) =>
    [
      ...(f.orcpt ? [`Original-Recipient: ${oneLine(f.orcpt, 500)}`] : []),
      `Final-Recipient: rfc822; ${f.recipient}`,
      `Action: ${action}`,
      `Status: ${f.status}`,
      `Diagnostic-Code: smtp; ${oneLine(f.diagnostic, 400)}`,
      `Last-Attempt-Date: ${rfc5322Date(now)}`,
      ...(action === 'delayed' && input.willRetryUntil ? [`Will-Retry-Until: ${rfc5322Date(input.willRetryUntil)}`] : []),
    ].join('\r\n'),
  );
  const perMessage = [
    ...(input.envid ? [`Original-Envelope-Id: ${oneLine(input.envid, 100)}`] : []),
    `Reporting-MTA: dns; ${mta}`,
    `Arrival-Date: ${rfc5322Date(input.arrivalDate ?? now)}`,
  ];
  const status = perMessage.join('\r\n') + '\r\n\r\n' + perRecipient.join('\r\n\r\n');
  const wantsFull = input.ret ? input.ret === 'FULL' : action === 'failed';
  const full = wantsFull && input.original.length <= FULL_ORIGINAL_MAX;
  const head = scanHeader(input.original, 0, input.original.length);
  const returned = full ? input.original : input.original.subarray(0, head.end);
  const header = [
    `From: Mail Delivery System <MAILER-DAEMON@${mta}>`,
    `To: <${input.sender}>`,
    `Subject: ${libmime.encodeWords(`${words.subject}: ${oneLine(subject, 120)}`, 'B', 52)}`,
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
  if (!input.sender || input.reports.length === 0) return 'dropped';
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
      ctx.log.warn({ sender: input.sender, recipients: input.reports.map((f) => f.recipient) }, 'DSN not stored: the sender\'s mailbox is over its quota');
    } else if (outcome !== 'dropped') ctx.metrics.countDelivery('dsn-sent');
  } catch (err) {
    ctx.metrics.countDelivery('dsn-lost');
    ctx.log.error({ err, sender: input.sender, recipients: input.reports.map((f) => f.recipient) }, 'DSN lost');
  }
}

/** What a final delivery here did for one recipient (the address as RCPT gave it). */
export interface LocalFailure {
  recipient: string;
  status: string;
  diagnostic: string;
}

/**
 * The RFC 3461 notices about a final delivery on this server (submission to a local mailbox,
 * port 25, LMTP): a "delivered" DSN for the recipients whose NOTIFY includes SUCCESS (RFC 3461
 * 4.1; RFC 3464 2.3.3), a bounce for the `failed` ones unless their NOTIFY leaves FAILURE out
 * (NEVER included). One DSN per kind, ENVID and RET of the transaction, ORCPT per recipient.
 * Costs nothing when the client gave no DSN parameters and nothing failed.
 */
export async function notifyLocalOutcome(ctx: ServerContext, input: { sender: string; original: Buffer; dsn: QueueDsn | null; delivered: string[]; failed: LocalFailure[] }): Promise<void> {
  const { dsn } = input;
  const failed = input.failed.filter((f) => wantsNotice(dsn, f.recipient, 'FAILURE'));
  const reached = dsn ? input.delivered.filter((r) => wantsNotice(dsn, r, 'SUCCESS')) : [];
  if (!failed.length && !reached.length) return;
  const notice = { sender: input.sender, original: input.original, envid: dsn?.envid, ret: dsn?.ret };
  const orcpt = (recipient: string) => recipientDsn(dsn, recipient)?.orcpt;
  if (failed.length) await sendDsnSafely(ctx, { ...notice, reports: failed.map((f) => ({ ...f, orcpt: orcpt(f.recipient) })) });
  if (reached.length) {
    await sendDsnSafely(ctx, {
      ...notice, action: 'delivered',
      reports: reached.map((recipient) => ({ recipient, status: '2.0.0', diagnostic: '250 2.0.0 delivered to the mailbox', orcpt: orcpt(recipient) })),
    });
  }
}
