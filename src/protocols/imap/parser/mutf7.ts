/**
 * Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3). Printable US-ASCII stands
 * for itself except "&", which is "&-"; everything else is UTF-16BE in base64 (with ","
 * for "/", no padding) between "&" and "-". Decoding is strict because a name has one
 * canonical spelling: accepting variants would let two spellings name one mailbox.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

function isPrintable(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

function encodeUnits(units: number[]): string {
  const bytes: number[] = [];
  for (const u of units) bytes.push(u >> 8, u & 0xff);
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}

export function encodeMutf7(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const code = s.charCodeAt(i);
    if (code === 0x26) {
      out += '&-';
      i++;
    } else if (isPrintable(code)) {
      out += s[i];
      i++;
    } else {
      const units: number[] = [];
      while (i < s.length && !isPrintable(s.charCodeAt(i))) units.push(s.charCodeAt(i++));
      out += `&${encodeUnits(units)}-`;
    }
  }
  return out;
}

/** UTF-16 units of one base64 run, or null unless it is the canonical encoding. */
function decodeRun(run: string): number[] | null {
  let bits = 0;
  let nbits = 0;
  const bytes: number[] = [];
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) return null;
    bits = ((bits << 6) | v) & 0xffffff;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      bytes.push((bits >> nbits) & 0xff);
    }
  }
  // Leftover bits must be fewer than 6 and zero, and whole UTF-16 units must result.
  if (nbits >= 6 || (bits & ((1 << nbits) - 1)) !== 0 || bytes.length % 2 !== 0 || bytes.length === 0) return null;
  const units: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) units.push((bytes[i]! << 8) | bytes[i + 1]!);
  return units;
}

/** Rejects lone or misordered surrogates: the name would not be valid Unicode. */
function validSurrogates(units: number[]): boolean {
  for (let i = 0; i < units.length; i++) {
    const u = units[i]!;
    if (u >= 0xd800 && u <= 0xdbff) {
      const next = units[i + 1];
      if (next === undefined || next < 0xdc00 || next > 0xdfff) return false;
      i++;
    } else if (u >= 0xdc00 && u <= 0xdfff) return false;
  }
  return true;
}

export function decodeMutf7(s: string): string | null {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const code = s.charCodeAt(i);
    if (!isPrintable(code)) return null; // raw 8-bit or control characters
    if (code !== 0x26) {
      out += s[i];
      i++;
      continue;
    }
    const end = s.indexOf('-', i + 1);
    if (end === -1) return null; // unterminated shift
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    const units = decodeRun(s.slice(i + 1, end));
    if (!units || !validSurrogates(units)) return null;
    // Printable ASCII must be written directly; "&-" is the only way to spell "&".
    if (units.some(isPrintable)) return null;
    out += String.fromCharCode(...units);
    i = end + 1;
    // Two adjacent runs ("&AOQ-&APY-") are a non-canonical spelling of one run.
    if (s.charCodeAt(i) === 0x26 && s.charCodeAt(i + 1) !== 0x2d) return null;
  }
  return out;
}
