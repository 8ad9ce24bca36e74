import { createTransport } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { QueueDsn } from '../store/types.js';
import { nextHopGroups, type NextHopDsn } from './dsn-params.js';
import { oneLine } from './replies.js';

/**
 * What happened to one recipient of one attempt. `dsn`: the receiving server offered the DSN
 * extension and so took the RFC 3461 parameters (and the duty to notify) over.
 */
export type Outcome = { kind: 'ok'; reply?: string; dsn?: boolean } | { kind: 'temp' | 'perm'; reply: string };

/** What an SMTP error looks like (nodemailer attaches these to its errors). */
interface SendError {
  message: string;
  code?: string;
  command?: string;
  responseCode?: number;
  response?: string;
  rejectedErrors?: SendError[];
  recipient?: string;
}

export function classify(err: SendError): Outcome {
  const reply = oneLine(err.response ?? err.message, 500);
  // A server refusing our own credentials or TLS is a configuration fault the administrator
  // can fix: retry, do not bounce every message. 503 is a session-state complaint, not a
  // verdict on the message (nodemailer's isPermanentResponseCode agrees).
  if (err.code === 'EAUTH' || err.code === 'ETLS' || err.code === 'ECONFIG') return { kind: 'temp', reply };
  const code = err.responseCode ?? 0;
  return code >= 500 && code !== 503 ? { kind: 'perm', reply } : { kind: 'temp', reply };
}

/**
 * One attempt at one server for `recipients`: one transaction, or one per group of recipients
 * with different RFC 3461 parameters (NOTIFY and ORCPT are per recipient, nodemailer's per
 * message). Unreachable as a whole only when the first transaction found no server.
 */
export async function sendOnce(options: SMTPTransport.Options, sender: string, recipients: string[], raw: Buffer, dsn?: QueueDsn | null): Promise<{ unreachable: string } | Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  for (const [i, group] of nextHopGroups(recipients, dsn).entries()) {
    const r = await sendTransaction(options, sender, group.recipients, raw, group.dsn);
    if (!(r instanceof Map)) {
      if (i === 0) return r;
      for (const x of group.recipients) out.set(x, { kind: 'temp', reply: r.unreachable });
      continue;
    }
    for (const [k, v] of r) out.set(k, v);
  }
  return out;
}

/**
 * One SMTP transaction with one server. `unreachable` (with the reason) when the server gave no
 * verdict on the message — no connection, a 421 or a failure before MAIL FROM — so that delivery
 * by MX tries the next address (RFC 5321 5.1); otherwise each recipient's outcome, keyed as given.
 */
async function sendTransaction(options: SMTPTransport.Options, sender: string, recipients: string[], raw: Buffer, dsn?: NextHopDsn): Promise<{ unreachable: string } | Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  const transport = createTransport({ connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 120_000, logger: false, ...options });
  try {
    const info = await transport.sendMail({ envelope: { from: sender, to: recipients }, raw, ...(dsn ? { dsn } : {}) });
    // nodemailer passes the parameters on only when the server's EHLO offered DSN (RFC 3461 4)
    const tookDsn = !!dsn && ((info as { ehlo?: string[] }).ehlo ?? []).some((l) => /^DSN\b/i.test(l));
    const reply = oneLine(info.response ?? '', 300);
    for (const r of info.accepted) out.set(String(r).toLowerCase(), { kind: 'ok', reply, dsn: tookDsn });
    for (const e of (info as { rejectedErrors?: SendError[] }).rejectedErrors ?? []) if (e.recipient) out.set(e.recipient.toLowerCase(), classify(e));
  } catch (e) {
    const err = e as SendError;
    const beforeMessage = !err.responseCode || err.responseCode === 421 || ['CONN', 'GREETING', 'EHLO', 'HELO', 'STARTTLS'].includes(err.command ?? '');
    if (beforeMessage && !err.rejectedErrors?.length && err.code !== 'EAUTH' && err.code !== 'ECONFIG') return { unreachable: oneLine(err.response ?? err.message, 300) };
    for (const r of err.rejectedErrors ?? []) if (r.recipient) out.set(r.recipient.toLowerCase(), classify(r));
    const whole = classify(err);
    for (const r of recipients) if (!out.has(r.toLowerCase())) out.set(r.toLowerCase(), whole);
  } finally {
    transport.close();
  }
  // Keys are lowercased for matching; answer under the addresses as given.
  return new Map(recipients.map((r) => [r, out.get(r.toLowerCase()) ?? { kind: 'temp', reply: 'no answer for this recipient' }]));
}
