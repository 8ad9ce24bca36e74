// Parsing of MIME header values of the form `value; attr=val; attr="quoted val"` (RFC 2045 5.1)
// with RFC 2231 continuations. Values are kept raw (only unquoted) because IMAP BODYSTRUCTURE
// passes them on to the client: RFC 2231 continuations are joined the way Dovecot does it,
// `name*0*=utf-8''a; name*1*=b` becomes `name*` = `utf-8''ab`, still %-encoded, so a client
// can decode it exactly as it would have from the original header.
import libmime from 'libmime';

export interface ParsedValue {
  value: string;
  params: Record<string, string>;
}

/** RFC 2045 token: printable ASCII except SPACE and tspecials. */
export const TOKEN_RE = /^[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+$/;

/** Removes RFC 822 comments outside quoted strings (nested parens, backslash escapes). */
export function stripComments(s: string): string {
  let out = '';
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && (inQuote || depth > 0)) {
      if (depth === 0) out += c + (s[i + 1] ?? '');
      i++;
    } else if (depth > 0) {
      if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '"') {
      inQuote = !inQuote;
      out += c;
    } else if (c === '(' && !inQuote && (i === 0 || /[\s;]/.test(s[i - 1]!))) {
      // Only a paren after whitespace/';' opens a comment, so `name=Invoice(1).pdf` survives.
      depth = 1;
      out += ' ';
    } else out += c;
  }
  return out;
}

/** Splits on `;` outside quoted strings. */
function splitParams(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inQuote && c === '\\') {
      cur += c + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') inQuote = !inQuote;
    if (c === ';' && !inQuote) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function unquote(v: string): string {
  v = v.trim();
  if (!v.startsWith('"')) return v;
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') out += v[++i] ?? '';
    else if (c === '"') break; // anything after the closing quote is junk
    else out += c;
  }
  return out;
}

/** Parses `value; a=b; ...`; parameter names lowercased, first occurrence wins. */
export function parseParamValue(header: string): ParsedValue {
  const [head = '', ...rest] = splitParams(stripComments(header));
  const raw: Array<[string, string]> = [];
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    if (!name || /\s/.test(name)) continue;
    raw.push([name, unquote(p.slice(eq + 1))]);
  }
  return { value: head.trim(), params: joinContinuations(raw) };
}

// Characters that may stay bare inside an RFC 2231 extended value (attribute-char).
const ATTR_CHAR_RE = /[!#$&+\-.^_`|~0-9A-Za-z]/;

function percentEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    if (ATTR_CHAR_RE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function joinContinuations(raw: Array<[string, string]>): Record<string, string> {
  // Maps, not objects, while collecting: names like "constructor" or "__proto__" are just names.
  const plain = new Map<string, string>();
  const segments = new Map<string, Array<{ n: number; encoded: boolean; value: string }>>();
  const order: Array<{ name: string; continued: boolean }> = []; // output order = first appearance
  for (const [name, value] of raw) {
    const m = /^(.+?)\*(\d+)(\*?)$/.exec(name);
    if (m) {
      const base = m[1]!;
      let list = segments.get(base);
      if (!list) {
        segments.set(base, (list = []));
        order.push({ name: base, continued: true });
      }
      const n = Number(m[2]);
      if (!list.some((s) => s.n === n)) list.push({ n, encoded: m[3] === '*', value });
    } else if (!plain.has(name)) {
      plain.set(name, value);
      order.push({ name, continued: false });
    }
  }
  const out = new Map<string, string>();
  const put = (k: string, v: string): void => void (out.has(k) || out.set(k, v)); // first one wins
  for (const { name, continued } of order) {
    if (!continued) {
      put(name, plain.get(name)!);
      continue;
    }
    const list = segments.get(name)!.sort((a, b) => a.n - b.n);
    if (!list.some((s) => s.encoded)) {
      put(name, list.map((s) => s.value).join(''));
      continue;
    }
    // Extended value: plain segments get %-encoded so the joined value stays one valid
    // RFC 2231 extended value; a missing charset'lang' prefix is supplied as ''.
    let v = list.map((s) => (s.encoded ? s.value : percentEncode(s.value))).join('');
    if (!list[0]!.encoded || list[0]!.n !== 0) v = "''" + v;
    put(name + '*', v);
  }
  return Object.fromEntries(out);
}

/**
 * Human-readable value of a parameter: RFC 2231 `name*` decoded with its charset, else the
 * plain value with any (non-standard but common) RFC 2047 encoded words decoded.
 */
export function paramText(params: Record<string, string>, name: string): string | undefined {
  const own = (k: string): string | undefined => (Object.hasOwn(params, k) ? params[k] : undefined);
  const ext = own(name + '*');
  if (ext !== undefined) {
    const m = /^([^']*)'[^']*'(.*)$/.exec(ext);
    const charset = m?.[1] || 'utf-8';
    const data = m ? m[2]! : ext;
    try {
      const bytes = data.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
      return libmime.decodeWord(charset, 'B', Buffer.from(bytes, 'latin1').toString('base64'));
    } catch {
      return data;
    }
  }
  const plain = own(name);
  if (plain === undefined) return undefined;
  try {
    return libmime.decodeWords(plain);
  } catch {
    return plain;
  }
}
