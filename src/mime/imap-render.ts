// IMAP string forms of ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2 and 9).
// The returned strings are meant to be written to the socket as UTF-8: literal lengths
// are counted in UTF-8 bytes.
import type { Address, Envelope, MimePart } from './structure.js';

/**
 * NIL, a quoted string, or a literal. Quoted strings cannot carry CR/LF or 8-bit (RFC 3501
 * QUOTED-CHAR); we also send other control characters (TAB included) as a literal so nothing
 * unusual ever travels inside quotes.
 */
export function imapQuote(s: string | null): string {
  if (s === null) return 'NIL';
  // no literal may carry NUL (RFC 3501 CHAR8): one in a broken header is dropped
  if (s.includes('\0')) s = s.replaceAll('\0', '');
  if (/[\x00-\x1f\x7f-\uffff]/.test(s)) return `{${Buffer.byteLength(s, 'utf8')}}\r\n${s}`;
  return '"' + s.replace(/[\\"]/g, '\\$&') + '"';
}

function addressList(list: Address[] | null): string {
  if (!list || list.length === 0) return 'NIL';
  return '(' + list.map((a) => `(${imapQuote(a.name)} ${imapQuote(a.adl)} ${imapQuote(a.mailbox)} ${imapQuote(a.host)})`).join('') + ')';
}

export function renderEnvelope(env: Envelope): string {
  return '(' + [
    imapQuote(env.date), imapQuote(env.subject),
    addressList(env.from), addressList(env.sender), addressList(env.replyTo),
    addressList(env.to), addressList(env.cc), addressList(env.bcc),
    imapQuote(env.inReplyTo), imapQuote(env.messageId),
  ].join(' ') + ')';
}

// Tokens (type, subtype, parameter names, encoding, disposition) are uppercased, as in the
// RFC 3501 examples; values are sent as written.
const up = (s: string): string => imapQuote(s.toUpperCase());

function paramList(params: Record<string, string> | undefined): string {
  const keys = params ? Object.keys(params) : [];
  if (keys.length === 0) return 'NIL';
  return '(' + keys.map((k) => `${up(k)} ${imapQuote(params![k]!)}`).join(' ') + ')';
}

function disposition(part: MimePart): string {
  const d = part.disposition;
  return d ? `(${up(d.value)} ${paramList(d.params)})` : 'NIL';
}

function language(part: MimePart): string {
  return part.language?.length ? '(' + part.language.map(imapQuote).join(' ') + ')' : 'NIL';
}

// A multipart with no parts is illegal in BODYSTRUCTURE (1*body); like Dovecot we describe
// an empty text/plain part instead.
const EMPTY_BODY = '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0';

/** `(...)` BODY (extended=false) or BODYSTRUCTURE (extended=true) of a part, outer parens included. */
export function renderBodyStructure(part: MimePart, extended: boolean): string {
  const ct = part.contentType;
  if (part.parts) {
    const children = part.parts.length
      ? part.parts.map((p) => renderBodyStructure(p, extended)).join('')
      : EMPTY_BODY + (extended ? ' NIL NIL NIL NIL)' : ')');
    let s = `(${children} ${up(ct.subtype)}`;
    if (extended) s += ` ${paramList(ct.params)} ${disposition(part)} ${language(part)} ${imapQuote(part.location ?? null)}`;
    return s + ')';
  }
  const fields = [
    up(ct.type), up(ct.subtype), paramList(ct.params),
    imapQuote(part.contentId ?? null), imapQuote(part.description ?? null),
    up(part.encoding), String(part.bodyEnd - part.bodyStart),
  ];
  if (part.message) {
    fields.push(renderEnvelope(part.message.envelope), renderBodyStructure(part.message.root, extended), String(part.lines));
  } else if (ct.type === 'text') {
    fields.push(String(part.lines));
  }
  if (extended) fields.push(imapQuote(part.md5 ?? null), disposition(part), language(part), imapQuote(part.location ?? null));
  return '(' + fields.join(' ') + ')';
}
