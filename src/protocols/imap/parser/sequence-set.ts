/**
 * IMAP sequence sets (RFC 3501 section 9, "sequence-set"): message numbers or UIDs such
 * as "1:3,5,7:*". Parsing keeps the client's order and "*" (as Infinity); resolution
 * against the mailbox size turns that into sorted, disjoint, in-range ranges.
 */

export type SeqRange = { from: number; to: number };

const MAX_NUMBER = 0xffffffff; // nz-number is a 32-bit unsigned value
const NZ_NUMBER = /^[1-9][0-9]{0,9}$/;

function parseSeqNumber(s: string): number | null {
  if (s === '*') return Infinity;
  if (!NZ_NUMBER.test(s)) return null; // rejects 0, leading zeros, signs, empty
  const n = Number(s);
  return n <= MAX_NUMBER ? n : null;
}

/**
 * sequence-set =/ "$" (SEARCHRES, RFC 5182 section 3): the saved search result, only ever on
 * its own. It names messages, not numbers, so callers resolve it (saved-result.ts) and
 * parseSequenceSet() below rejects it.
 */
export const SAVED_RESULT = '$';

/** null when the text is not a valid numeric sequence-set (see SAVED_RESULT for "$"). */
export function parseSequenceSet(s: string): SeqRange[] | null {
  if (s.length === 0) return null;
  const out: SeqRange[] = [];
  for (const part of s.split(',')) {
    const colon = part.indexOf(':');
    if (colon === -1) {
      const n = parseSeqNumber(part);
      if (n === null) return null;
      out.push({ from: n, to: n });
    } else {
      const from = parseSeqNumber(part.slice(0, colon));
      const to = parseSeqNumber(part.slice(colon + 1));
      if (from === null || to === null) return null;
      out.push({ from, to });
    }
  }
  return out;
}

/**
 * "*" becomes `max`; "5:2" becomes 2:5; anything beyond `max` is clipped. Per RFC 3501
 * "n:*" with n > max still means max (so "UID 100:*" always matches the last message).
 * Result is sorted and merged (adjacent ranges joined); empty when max is 0.
 */
export function resolveSequenceSet(ranges: SeqRange[], max: number): SeqRange[] {
  if (max <= 0) return [];
  const norm: SeqRange[] = [];
  for (const r of ranges) {
    const a = r.from === Infinity ? max : r.from;
    const b = r.to === Infinity ? max : r.to;
    const from = Math.max(1, Math.min(a, b));
    const to = Math.min(max, Math.max(a, b));
    if (from <= to) norm.push({ from, to });
  }
  norm.sort((x, y) => x.from - y.from);
  const out: SeqRange[] = [];
  for (const r of norm) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** Works on raw or resolved ranges (raw "*" matches everything from its other end up). */
export function seqSetContains(ranges: SeqRange[], n: number): boolean {
  for (const r of ranges) {
    if (n >= Math.min(r.from, r.to) && n <= Math.max(r.from, r.to)) return true;
  }
  return false;
}

/** Compact form, e.g. [5, 1, 2, 3, 3] -> "1:3,5"; "" for an empty list. */
export function formatSequenceSet(nums: number[]): string {
  const sorted = [...new Set(nums)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i]!;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}
