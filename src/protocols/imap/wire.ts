/**
 * Formatting of values the server sends (RFC 3501 section 4 and 9): strings as quoted or
 * literal, mailbox names in modified UTF-7 (or UTF-8 after ENABLE UTF8=ACCEPT), dates.
 */
import { encodeMutf7 } from './parser/mutf7.js';

/** Quoted when safe, literal otherwise; non-ASCII only travels quoted when UTF-8 is allowed. */
export function str(s: string | null, utf8 = false): string {
  if (s === null) return 'NIL';
  if (s.includes('\0')) s = s.replaceAll('\0', ''); // never in a literal (RFC 3501 CHAR8)
  const unsafe = utf8 ? /[\x00-\x1f\x7f]/ : /[\x00-\x1f\x7f-\uffff]/;
  if (unsafe.test(s) || s.length > 1000) return `{${Buffer.byteLength(s, 'utf8')}}\r\n${s}`;
  return '"' + s.replace(/[\\"]/g, '\\$&') + '"';
}

export function mailboxName(name: string, utf8: boolean): string {
  return str(utf8 ? name : encodeMutf7(name), utf8);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** date-time in UTC: "17-Jul-1996 09:44:25 +0000" (the quotes included). */
export function internalDate(d: Date): string {
  return `"${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000"`;
}

/** Parses IMAP date-time ("17-Jul-1996 02:44:25 -0700", day may be space-padded); null when invalid. */
export function parseDateTime(s: string): Date | null {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (!m) return null;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (month < 0) return null;
  const utc = Date.UTC(+m[3]!, month, +m[1]!, +m[4]!, +m[5]!, +m[6]!);
  const offset = (+m[8]! * 60 + +m[9]!) * (m[7] === '-' ? -1 : 1);
  const d = new Date(utc - offset * 60_000);
  return Number.isNaN(d.getTime()) || +m[1]! > 31 || +m[4]! > 23 || +m[5]! > 59 || +m[6]! > 60 ? null : d;
}

/** IMAP date ("1-Feb-1994") as a UTC day number (days since epoch); null when invalid. */
export function parseDay(s: string): number | null {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s);
  if (!m) return null;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (month < 0 || +m[1]! < 1 || +m[1]! > 31) return null;
  return Math.floor(Date.UTC(+m[3]!, month, +m[1]!) / 86_400_000);
}

export const dayOf = (d: Date): number => Math.floor(d.getTime() / 86_400_000);
