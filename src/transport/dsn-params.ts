import type { DsnNotify, QueueDsn, RecipientDsn } from '../store/types.js';
import { SmtpReply } from './replies.js';

/**
 * The RFC 3461 parameters (NOTIFY, ORCPT, RET, ENVID) of a submission: the checks the SMTP
 * library leaves to us, the form they are queued in, and the rules of who gets which notice.
 * smtp-server parses them (xtext decoded, NOTIFY and RET values and ORCPT's shape checked)
 * once its DSN extension is on.
 */

// RFC 3461 4.4: ENVID at most 100 characters; 4.2: ORCPT at most 500.
const ENVID_MAX = 100;
const ORCPT_MAX = 500;
// What xtext can carry and a DSN header field can show: printable US-ASCII and the space.
const PRINTABLE = /^[\x20-\x7e]*$/;

const syntax = (text: string) => new SmtpReply(501, '5.5.4', text);

// RFC 3461 4: xtext = *( xchar / hexchar ); xchar is "!" to "~" except "+" and "=";
// hexchar is "+" and two upper-case hex digits.
const XTEXT = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/;
// The bad spot of a value that is not xtext: the first character that is neither.
const NOT_XTEXT = /[^\x21-\x2a\x2c-\x3c\x3e-\x7e]/;

/**
 * The 501 for an ENVID or ORCPT value (as the client sent it, before decoding) that is not
 * xtext, or null. smtp-server decodes "+XX" where it finds it and keeps anything else as it
 * came ("+2b", "+G1", a lone "+", "=", bytes above 126), so the value it hands over would be
 * a guess at what the client meant: RFC 3461 4 makes such a parameter a syntax error.
 */
export function xtextProblem(param: 'ENVID' | 'ORCPT', raw: string): SmtpReply | null {
  // ORCPT: "addr-type;xtext" (4.2), the addr-type an atom
  const start = param === 'ORCPT' ? raw.indexOf(';') + 1 : 0;
  const text = raw.slice(start);
  if (XTEXT.test(text)) return null;
  const plus = /\+(?![0-9A-F]{2})/.exec(text);
  const bad = NOT_XTEXT.exec(text.replace(/\+/g, 'P'));
  const why = plus && (!bad || plus.index < bad.index)
    ? `"+" at position ${start + plus.index + 1} is not followed by two upper-case hex digits`
    : `character ${JSON.stringify(text[bad!.index])} at position ${start + bad!.index + 1} must be written as +XX`;
  return syntax(`${param} is not valid xtext (RFC 3461 4): ${why}`);
}

/** The ENVID of MAIL FROM (decoded), or a 501 when it cannot be one. */
export function checkEnvid(envid: string | null | undefined): string | null {
  if (!envid) return null;
  if (envid.length > ENVID_MAX) throw syntax(`ENVID longer than ${ENVID_MAX} characters`);
  if (!PRINTABLE.test(envid)) throw syntax('ENVID must be printable US-ASCII (RFC 3461 4.4)');
  return envid;
}

/** The ORCPT of RCPT TO (decoded, "addr-type;address"), or a 501 when it cannot be one. */
export function checkOrcpt(orcpt: string | null | undefined): string | null {
  if (!orcpt) return null;
  if (orcpt.length > ORCPT_MAX) throw syntax(`ORCPT longer than ${ORCPT_MAX} characters`);
  const semi = orcpt.indexOf(';');
  const address = orcpt.slice(semi + 1);
  if (semi < 1 || !PRINTABLE.test(orcpt) || !address.trim()) throw syntax('Bad ORCPT parameter: addr-type;address expected (RFC 3461 4.2)');
  return orcpt;
}

/** The shape smtp-server gives the envelope's DSN fields in (`session.envelope.dsn`, `rcptTo[].dsn`). */
export interface ParsedEnvelope {
  dsn?: { ret?: string | null; envid?: string | null } | undefined;
  rcptTo: Array<{ address: string; dsn?: { notify?: string[]; orcpt?: string } | undefined }>;
}

/** The parameters to queue with a message; null when the client gave none (most submissions). */
export function queueDsnOf(env: ParsedEnvelope): QueueDsn | null {
  const recipients: Record<string, RecipientDsn> = {};
  for (const r of env.rcptTo) {
    const notify = (r.dsn?.notify as DsnNotify[] | undefined) ?? null;
    const orcpt = r.dsn?.orcpt ?? null;
    if (notify || orcpt) recipients[r.address] = { notify, orcpt };
  }
  const ret = env.dsn?.ret === 'FULL' || env.dsn?.ret === 'HDRS' ? env.dsn.ret : null;
  const envid = env.dsn?.envid ?? null;
  if (!ret && !envid && Object.keys(recipients).length === 0) return null;
  return { ret, envid, recipients };
}

/** A recipient's parameters; matched without regard to case, as the addresses of one entry are. */
export function recipientDsn(dsn: QueueDsn | null | undefined, recipient: string): RecipientDsn | null {
  if (!dsn) return null;
  if (dsn.recipients[recipient]) return dsn.recipients[recipient];
  const lower = recipient.toLowerCase();
  for (const [k, v] of Object.entries(dsn.recipients)) if (k.toLowerCase() === lower) return v;
  return null;
}

/**
 * Whether the sender asked for a notice of this kind about this recipient. Without NOTIFY, only
 * failures are reported (RFC 3461 4.1 leaves DELAY to the MTA; delay warnings are opt-in here).
 */
export function wantsNotice(dsn: QueueDsn | null | undefined, recipient: string, kind: Exclude<DsnNotify, 'NEVER'>): boolean {
  const notify = recipientDsn(dsn, recipient)?.notify;
  if (!notify) return kind === 'FAILURE';
  return notify.includes(kind);
}

/** What nodemailer's `dsn` option takes for one transaction. */
export interface NextHopDsn {
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  notify?: string;
  orcpt?: string;
}

/**
 * Recipients grouped so that each group's transaction passes the same parameters on: SMTP has one
 * NOTIFY/ORCPT per RCPT, nodemailer one per transaction. Without parameters: one group, none passed.
 */
export function nextHopGroups(recipients: string[], dsn: QueueDsn | null | undefined): Array<{ recipients: string[]; dsn?: NextHopDsn }> {
  if (!dsn) return [{ recipients }];
  const groups = new Map<string, { recipients: string[]; dsn: NextHopDsn }>();
  for (const r of recipients) {
    const p = recipientDsn(dsn, r);
    const hop: NextHopDsn = {
      ...(dsn.ret ? { ret: dsn.ret } : {}),
      ...(dsn.envid ? { envid: dsn.envid } : {}),
      ...(p?.notify ? { notify: p.notify.join(',') } : {}),
      ...(p?.orcpt ? { orcpt: p.orcpt } : {}),
    };
    const key = JSON.stringify([hop.notify, hop.orcpt]);
    const g = groups.get(key);
    if (g) g.recipients.push(r);
    else groups.set(key, { recipients: [r], dsn: hop });
  }
  return [...groups.values()];
}
