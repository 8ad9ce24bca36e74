import type { ServerContext } from '../server/context.js';
import type { QueueDsn, User } from '../store/types.js';
import { headerValues } from '../mime/search-text.js';
import { rfc5322Date } from './dsn.js';
import { oneLine } from './replies.js';
import { handOver } from '../store/hand-over.js';

export interface TraceInfo {
  helo: string;
  clientHostname: string;
  clientIp: string;
  /** ESMTP, ESMTPS, ESMTPSA (RFC 3848) */
  protocol: string;
  id: string;
  /** Named only for a single recipient: listing all would disclose Bcc recipients to each other. */
  recipients: string[];
}

/** The RFC 5321 4.4 Received: line this server adds in front of a message it accepted. */
export function receivedHeader(ctx: ServerContext, t: TraceInfo): string {
  // RFC 5321 TCP-info: "([ip])", or "(name [ip])" when the address has a reverse name.
  const name = oneLine(t.clientHostname, 100).replace(/[()\s[\]]/g, '');
  const tcpInfo = name && name !== t.clientIp ? `${name} [${t.clientIp}]` : `[${t.clientIp}]`;
  const from = `${oneLine(t.helo, 100).replace(/[()\s]/g, '') || 'unknown'} (${tcpInfo})`;
  const forPart = t.recipients.length === 1 ? `\r\n\tfor <${oneLine(t.recipients[0], 300)}>` : '';
  return `Received: from ${from}\r\n\tby ${ctx.computer} (Mailwarden) with ${t.protocol} id ${t.id}${forPart};\r\n\t${rfc5322Date()}\r\n`;
}

export interface LocalOutcome {
  delivered: User[];
  /** Recipients whose mailbox had no room for this message. */
  overQuota: User[];
  /** The outbound queue entry made for the remote recipients, if any were given. */
  queueId: number | null;
}

/** Remote recipients of the same message, queued for the smart host (submission only). */
export interface Relay {
  recipients: string[];
  submittedBy: number | null;
  /** RFC 3461 parameters, queued with the entry. */
  dsn?: QueueDsn | null;
}

/** True when the user's mailbox can take `size` more bytes now. */
export async function hasRoom(ctx: ServerContext, user: User, size: number): Promise<boolean> {
  const q = await ctx.store.quota(user.id);
  return q.limitBytes === 0 || q.usedBytes + size <= q.limitBytes;
}

/**
 * Final delivery to local mailboxes: Return-Path in front (RFC 5321 4.4), one stored copy for
 * all recipients that have room, in one store transaction — together with the queue entry for
 * the `relay` recipients, so that a crash cannot keep the local copies without the entry (a
 * retried submission would deliver them twice). Resolves only after the commit.
 */
export async function deliverLocal(ctx: ServerContext, sender: string, users: User[], raw: Buffer, relay?: Relay, folder: '\\Inbox' | '\\Junk' = '\\Inbox', trace = ''): Promise<LocalOutcome> {
  const unique = [...new Map(users.map((u) => [u.id, u])).values()];
  // Return-Path, then the trace fields this server adds (`trace`), then the message: one copy of the bytes
  // built for the store alone: handed over, so a store on another thread moves it instead of copying it
  const stored = handOver(Buffer.concat([Buffer.from(`Return-Path: <${sender}>\r\n${trace}`), raw]));
  const storedSize = stored.length;
  const ids = unique.map((u) => u.id);
  // the store checks each mailbox's room inside the write and leaves out those that are full
  let queueId: number | null = null;
  let out;
  if (relay) ({ queueId, ...out } = await ctx.store.deliverAndEnqueue(ids, stored, { sender, recipients: relay.recipients, raw: trace ? Buffer.concat([Buffer.from(trace), raw]) : raw, submittedBy: relay.submittedBy, dsn: relay.dsn ?? null }));
  else out = await ctx.store.deliver(ids, stored, folder === '\\Inbox' ? undefined : { specialUse: folder });
  const full = new Set(out.overQuota);
  const delivered = unique.filter((u) => !full.has(u.id));
  const overQuota = unique.filter((u) => full.has(u.id));
  ctx.metrics.countDelivery('over-quota', overQuota.length);
  ctx.metrics.countDelivery('delivered', delivered.length);
  if (relay) ctx.metrics.countDelivery('queued', relay.recipients.length);
  if (delivered.length === 0) return { delivered, overQuota, queueId };
  const messageId = headerValues(raw, 'message-id')[0]?.trim() ?? '';
  // The log record is not part of what the 250 promises: it commits with the next group of
  // writes instead of holding the reply back for a commit of its own.
  void ctx.events
    .write('messageDelivered', [messageId, sender, delivered.map((u) => u.address).join(', '), storedSize], delivered.length === 1 ? delivered[0].address : null)
    .catch(() => undefined);
  return { delivered, overQuota, queueId };
}
