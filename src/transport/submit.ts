import type { ServerContext } from '../server/context.js';
import type { QueueDsn, User } from '../store/types.js';
import { deliverLocal } from './deliver.js';
import { notifyLocalOutcome } from './dsn.js';
import { wakeOutboundQueue } from './queue.js';
import { ownsAddress, resolveRecipient } from './recipients.js';
import { SmtpReply } from './replies.js';

export interface SubmitInput {
  from: string;
  to: string[];
  raw: Buffer;
  saveToSent: boolean;
  /** RFC 3461 parameters the SMTP client gave (MAIL FROM RET/ENVID, RCPT TO NOTIFY/ORCPT). */
  dsn?: QueueDsn | null;
}

export interface SubmitResult {
  delivered: string[];
  queued: string[];
  queueId: number | null;
  /** Local recipients whose mailbox was full; the sender got a DSN for them. */
  bounced: string[];
  sentSaved: boolean;
  sentError?: string;
}

/**
 * Sends a message for an authenticated user: the SMTP submission listener and the web mail
 * both come here, so the rules (own sender address, size, local recipients delivered at
 * once, remote ones queued) are the same. Throws SmtpReply when nothing was sent.
 * `trace` (a Received: line) is put in front after the size check, so that the limit applies
 * to what the client sent.
 */
export async function submitMessage(ctx: ServerContext, user: User, input: SubmitInput, trace = ''): Promise<SubmitResult> {
  if (!(await ownsAddress(ctx, user, input.from))) {
    throw new SmtpReply(553, '5.7.1', `Sender address <${input.from}> is not one of ${user.address}'s addresses`);
  }
  if (input.to.length === 0) throw new SmtpReply(554, '5.5.1', 'No recipients');
  await ctx.settings.refresh();
  const maxRecipients = ctx.settings.int('SmtpSettings.MaxRecipients');
  if (input.to.length > maxRecipients) throw new SmtpReply(452, '4.5.3', `Too many recipients (at most ${maxRecipients})`);
  const maxSize = ctx.settings.int('SmtpSettings.MaxMessageSize');
  if (input.raw.length > maxSize) throw new SmtpReply(552, '5.3.4', `Message size exceeds fixed maximum message size of ${maxSize} bytes`);

  const locals: User[] = [];
  const localAddresses: string[] = [];
  const remotes: string[] = [];
  for (const address of new Set(input.to.map((a) => a.trim()))) {
    const r = await resolveRecipient(ctx, address);
    if (r.kind === 'unknown-local') throw new SmtpReply(550, '5.1.1', `<${address}>: no such mailbox here`);
    if (r.kind === 'local') {
      locals.push(r.user);
      localAddresses.push(address);
    }
    else remotes.push(address);
  }

  const raw = trace ? Buffer.concat([Buffer.from(trace), input.raw]) : input.raw;
  const relay = remotes.length ? { recipients: remotes, submittedBy: user.id, dsn: input.dsn ?? null } : undefined;
  const local = await deliverLocal(ctx, input.from, locals, raw, relay);
  if (local.delivered.length === 0 && remotes.length === 0) throw new SmtpReply(452, '4.2.2', 'Mailbox full');
  const queueId = local.queueId;
  if (queueId !== null) wakeOutboundQueue(ctx);
  // The address each local recipient was given as (NOTIFY and ORCPT are keyed by it).
  const given = new Map(locals.map((u, i) => [u.id, localAddresses[i]!]));
  // Some recipients may already have the message, so the submission as a whole succeeded; the
  // sender learns about the full mailboxes from a DSN (RFC 3464), as from a remote MTA, and
  // gets a "delivered" notice where NOTIFY=SUCCESS asked for one (final delivery was here).
  await notifyLocalOutcome(ctx, {
    sender: input.from, original: raw, dsn: input.dsn ?? null,
    delivered: local.delivered.map((u) => given.get(u.id) ?? u.address),
    failed: local.overQuota.map((u) => ({ recipient: given.get(u.id) ?? u.address, status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full' })),
  });

  const result: SubmitResult = {
    delivered: local.delivered.map((u) => u.address), queued: remotes, queueId,
    bounced: local.overQuota.map((u) => u.address), sentSaved: false,
  };
  if (input.saveToSent) {
    // After sending: a full mailbox must not stop the message itself, only its copy.
    try {
      const sent = await ctx.store.getSpecialFolder(user.id, '\\Sent');
      await ctx.store.append(user.id, sent.id, input.raw, { flags: ['\\Seen'] });
      result.sentSaved = true;
    } catch (err) {
      result.sentError = (err as Error).message;
    }
  }
  return result;
}
