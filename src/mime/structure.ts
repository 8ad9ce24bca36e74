// MIME structure of a raw message as byte ranges (RFC 2045/2046), plus the IMAP ENVELOPE
// (RFC 3501 7.4.2). The result is plain data (JSON-serialisable) so it can be stored beside
// the message and used later for FETCH BODYSTRUCTURE / BODY[section] without re-parsing.
import { parseAddressList } from './address.js';
import { fieldValue, firstValue, lineEnd, scanHeader, type HeaderBlock } from './headers.js';
import { parseParamValue, TOKEN_RE } from './params.js';

export { MISSING_DOMAIN, MISSING_MAILBOX } from './address.js';
export { paramText } from './params.js';

export interface ContentType { type: string; subtype: string; params: Record<string, string> } // type/subtype lowercased; param names lowercased, values raw (unquoted)
export interface MimePart {
  headerStart: number; headerEnd: number;   // byte range of the header block incl. the blank line that ends it (headerEnd = bodyStart)
  bodyStart: number; bodyEnd: number;       // byte range of the body (for multipart: the whole body incl. boundaries)
  contentType: ContentType;                 // defaults text/plain; charset=us-ascii (or message/rfc822 default inside multipart/digest)
  disposition?: { value: string; params: Record<string, string> };
  contentId?: string; description?: string; encoding: string /* lowercased, default 7bit */; md5?: string; language?: string[]; location?: string;
  lines: number;                            // body line count (for text/* and message/rfc822)
  parts?: MimePart[];                       // multipart children (section numbers 1..n)
  message?: MessageStructure;               // for message/rfc822 (and message/global): the encapsulated message
}
export interface Address { name: string | null; adl: string | null; mailbox: string | null; host: string | null } // raw (still encoded-word) display names, as IMAP wants them
export interface Envelope { date: string | null; subject: string | null; from: Address[] | null; sender: Address[] | null; replyTo: Address[] | null; to: Address[] | null; cc: Address[] | null; bcc: Address[] | null; inReplyTo: string | null; messageId: string | null }
export interface MessageStructure { root: MimePart; envelope: Envelope; size: number }

/** Nesting cap (multipart + message/rfc822 levels) so hostile input cannot blow the stack. */
const MAX_DEPTH = 64;
/**
 * Body parts described at most per message, as Dovecot's message parser does (10,000 total MIME
 * parts): past it the rest of a multipart is the unparsed body of its last part, so no byte is
 * lost. A 100,000-part message took seconds of event loop per FETCH BODYSTRUCTURE (issue 14).
 */
export const MAX_MIME_PARTS = 10_000;

/** How many more parts this message may describe (one per message being parsed). */
interface PartBudget { left: number }

export function parseMessage(raw: Buffer): MessageStructure {
  try {
    return parseMessageAt(raw, 0, raw.length, 0, { left: MAX_MIME_PARTS });
  } catch {
    // Defensive only: the parser is written not to throw. Fall back to "one opaque text body".
    const root: MimePart = {
      headerStart: 0, headerEnd: 0, bodyStart: 0, bodyEnd: raw.length,
      contentType: defaultType(false), encoding: '7bit', lines: countLines(raw, 0, raw.length),
    };
    return { root, envelope: emptyEnvelope(), size: raw.length };
  }
}

function parseMessageAt(raw: Buffer, start: number, end: number, depth: number, budget: PartBudget): MessageStructure {
  const header = scanHeader(raw, start, end);
  return {
    root: buildPart(raw, header, end, false, depth, budget),
    envelope: buildEnvelope(raw, header),
    size: end - start,
  };
}

function parsePart(raw: Buffer, start: number, end: number, inDigest: boolean, depth: number, budget: PartBudget): MimePart {
  return buildPart(raw, scanHeader(raw, start, end), end, inDigest, depth, budget);
}

function defaultType(inDigest: boolean): ContentType {
  // RFC 2045 5.2 / RFC 2046 5.1.5
  return inDigest
    ? { type: 'message', subtype: 'rfc822', params: {} }
    : { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } };
}

function parseContentType(value: string | null, inDigest: boolean): ContentType {
  if (value === null) return defaultType(inDigest);
  const pv = parseParamValue(value);
  // Lenient on the separator ("text/plain charset=x" still yields text/plain), strict on tokens.
  const m = /^([^\s/]+)\s*\/\s*([^\s/]+)/.exec(pv.value);
  if (!m || !TOKEN_RE.test(m[1]!) || !TOKEN_RE.test(m[2]!)) {
    // RFC 2045 5.2: assume the default when the header is syntactically invalid.
    return { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } };
  }
  const ct: ContentType = { type: m[1]!.toLowerCase(), subtype: m[2]!.toLowerCase(), params: pv.params };
  if (ct.type === 'text' && !Object.hasOwn(ct.params, 'charset') && !Object.hasOwn(ct.params, 'charset*')) {
    ct.params = { charset: 'us-ascii', ...ct.params }; // RFC 2046 4.1.2 default, shown explicitly like Dovecot
  }
  return ct;
}

function buildPart(raw: Buffer, header: HeaderBlock, end: number, inDigest: boolean, depth: number, budget: PartBudget): MimePart {
  const get = (n: string): string | null => firstValue(raw, header, n);
  const part: MimePart = {
    headerStart: header.start,
    headerEnd: header.end,
    bodyStart: header.end,
    bodyEnd: end,
    contentType: parseContentType(get('content-type'), inDigest),
    encoding: parseEncoding(get('content-transfer-encoding')),
    lines: countLines(raw, header.end, end),
  };
  const disp = get('content-disposition');
  if (disp !== null) {
    const pv = parseParamValue(disp);
    if (TOKEN_RE.test(pv.value)) part.disposition = { value: pv.value.toLowerCase(), params: pv.params };
  }
  const optional: Array<[keyof MimePart, string]> = [
    ['contentId', 'content-id'], ['description', 'content-description'], ['md5', 'content-md5'], ['location', 'content-location'],
  ];
  for (const [key, name] of optional) {
    const v = get(name);
    if (v !== null) (part as unknown as Record<string, string>)[key] = v;
  }
  const lang = get('content-language');
  if (lang !== null) {
    const tags = lang.replace(/\([^)]*\)/g, ' ').split(',').map((t) => t.trim()).filter(Boolean);
    if (tags.length) part.language = tags;
  }

  const ct = part.contentType;
  if (ct.type === 'multipart') {
    const boundary = ct.params['boundary'];
    if (!boundary || depth >= MAX_DEPTH || budget.left <= 0) {
      // Without a boundary the body cannot be split; treat it as the RFC 2045 default
      // (invalid header) so the text stays readable instead of an empty multipart.
      part.contentType = defaultType(false);
    } else {
      let ranges = splitMultipart(raw, part.bodyStart, end, boundary);
      if (ranges.length > budget.left) {
        // the parts past the budget become the body of the last one described
        const keep = budget.left;
        ranges = [...ranges.slice(0, keep - 1), [ranges[keep - 1]![0], ranges[ranges.length - 1]![1]]];
      }
      budget.left -= ranges.length;
      part.parts = ranges.map(([s, e]) => parsePart(raw, s, e, ct.subtype === 'digest', depth + 1, budget));
    }
  } else if (ct.type === 'message' && (ct.subtype === 'rfc822' || ct.subtype === 'global')) {
    if (part.encoding === 'base64' || part.encoding === 'quoted-printable' || depth >= MAX_DEPTH || budget.left <= 0) {
      // Encoded (illegal per RFC 2046 5.2.1) or too deep: the bytes are not a parseable
      // message here, and BODYSTRUCTURE for MESSAGE/RFC822 must carry an envelope, so
      // describe it as opaque data instead.
      part.contentType = { type: 'application', subtype: 'octet-stream', params: {} };
    } else {
      budget.left -= 1;
      part.message = parseMessageAt(raw, part.bodyStart, end, depth + 1, budget);
    }
  }
  return part;
}

function parseEncoding(v: string | null): string {
  if (v === null) return '7bit';
  const t = v.replace(/\([^)]*\)/g, '').trim().toLowerCase();
  return TOKEN_RE.test(t) ? t : '7bit'; // junk like "?invalid" -> default, as Dovecot does
}

/**
 * Line count: LF count, plus one for a final line without a line break (a part's last line
 * ends in the CRLF that RFC 2046 assigns to the following boundary). "hello\n" and "hello"
 * are both one line, which matches Dovecot's numbers.
 */
export function countLines(raw: Buffer, start: number, end: number): number {
  if (end <= start) return 0;
  let n = 0;
  let i = start;
  for (;;) {
    const j = raw.indexOf(0x0a, i);
    if (j === -1 || j >= end) break;
    n++;
    i = j + 1;
  }
  return i < end ? n + 1 : n;
}

/**
 * Finds the body parts of a multipart body in [start, end). A delimiter line is
 * "--boundary" at the start of a line, optionally "--" (close), then only whitespace.
 * The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1), so parts end
 * before it. A missing close delimiter lets the last part run to `end`; the outer level
 * already cut `end` at its own boundary, so outer boundaries terminate inner parts.
 */
function splitMultipart(raw: Buffer, start: number, end: number, boundary: string): Array<[number, number]> {
  const needle = Buffer.from('--' + boundary, 'latin1');
  const ranges: Array<[number, number]> = [];
  let partStart = -1;
  let from = start;
  while (from < end) {
    const p = raw.indexOf(needle, from);
    if (p === -1 || p + needle.length > end) break;
    from = p + 1;
    if (p !== start && raw[p - 1] !== 0x0a) continue;
    let q = p + needle.length;
    const close = raw[q] === 0x2d && raw[q + 1] === 0x2d && q + 2 <= end;
    if (close) q += 2;
    while (q < end && (raw[q] === 0x20 || raw[q] === 0x09 || raw[q] === 0x0d)) q++;
    if (q < end && raw[q] !== 0x0a) continue; // "--boundaryX": a longer boundary, not ours
    if (partStart >= 0) {
      let e = p;
      if (p > start && raw[e - 1] === 0x0a) e--;
      if (e > start && raw[e - 1] === 0x0d) e--;
      ranges.push([partStart, Math.max(partStart, e)]);
    }
    if (close) return ranges; // epilogue follows; it belongs to no part
    partStart = lineEnd(raw, q, end);
    from = partStart;
  }
  if (partStart >= 0) ranges.push([partStart, end]);
  return ranges;
}

function emptyEnvelope(): Envelope {
  return { date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null };
}

function buildEnvelope(raw: Buffer, header: HeaderBlock): Envelope {
  const first = (n: string): string | null => firstValue(raw, header, n);
  const addrs = (n: string): Address[] | null => {
    const f = header.fields.find((x) => x.lname === n);
    if (!f) return null;
    const list = parseAddressList(fieldValue(raw, f));
    return list.length ? list : null; // RFC 3501: absent or empty -> NIL
  };
  const from = addrs('from');
  return {
    date: first('date'),
    subject: first('subject'),
    from,
    sender: addrs('sender') ?? from, // RFC 3501: default to From
    replyTo: addrs('reply-to') ?? from,
    to: addrs('to'),
    cc: addrs('cc'),
    bcc: addrs('bcc'),
    inReplyTo: first('in-reply-to'),
    messageId: first('message-id'),
  };
}
