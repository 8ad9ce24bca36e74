/**
 * SORT criteria (RFC 5256 section 3, DISPLAYFROM/DISPLAYTO of RFC 5957) and the ordering they
 * give. Keys come from mime/sort-facts.ts (kept by the store, cached by sort-cache.ts); messages that compare equal keep mailbox order.
 */
import { ImapParseError, type ImapValue } from './parser/command-parser.js';
import type { SortFacts } from '../../mime/sort-facts.js';

export type SortKeyName = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
export interface SortCriterion {
  key: SortKeyName;
  reverse: boolean;
}

const KEYS = new Set<string>(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

/** "(REVERSE DATE SUBJECT)": a non-empty list; REVERSE qualifies the key after it. Errors are BAD. */
export function parseSortCriteria(v: ImapValue | undefined): SortCriterion[] {
  if (v?.t !== 'list') throw new ImapParseError('SORT needs a parenthesised list of sort criteria', null);
  const out: SortCriterion[] = [];
  let reverse = false;
  for (const item of v.v) {
    const name = item.t === 'atom' ? item.v.toUpperCase() : '';
    if (name === 'REVERSE' && !reverse) {
      reverse = true;
      continue;
    }
    if (!KEYS.has(name)) throw new ImapParseError(`Unknown sort criterion ${item.t === 'atom' ? item.v : ''}`.trim(), null);
    out.push({ key: name as SortKeyName, reverse });
    reverse = false;
  }
  if (reverse || out.length === 0) throw new ImapParseError('Sort criteria incomplete', null);
  return out;
}

/** One message to order: its place in the view, and what its keys come from. */
export interface SortItem {
  seq: number;
  uid: number;
  size: number;
  internalDate: number;
  facts: SortFacts;
}

/** The sent date SORT DATE and THREAD use: Date:, or the internal date without a usable one (RFC 5256 2.2). */
export const sentDate = (i: SortItem): number => (Number.isNaN(i.facts.sent) ? i.internalDate : i.facts.sent);

function column(items: readonly SortItem[], key: SortKeyName): Float64Array | string[] {
  switch (key) {
    case 'ARRIVAL': return Float64Array.from(items, (i) => i.internalDate);
    case 'SIZE': return Float64Array.from(items, (i) => i.size);
    case 'DATE': return Float64Array.from(items, sentDate);
    case 'SUBJECT': return items.map((i) => i.facts.subject);
    case 'FROM': return items.map((i) => i.facts.from);
    case 'TO': return items.map((i) => i.facts.to);
    case 'CC': return items.map((i) => i.facts.cc);
    case 'DISPLAYFROM': return items.map((i) => i.facts.displayFrom);
    case 'DISPLAYTO': return items.map((i) => i.facts.displayTo);
  }
}

/**
 * Dense ranks (0, 1, …) of values: equal values equal ranks, the order of the values (code units
 * for strings, as the comparison of casemapKey forms wants). Native sorts of the distinct values
 * only, no comparator call per pair.
 */
function ranks(values: Float64Array | string[], reverse: boolean): { rank: Uint32Array; distinct: number } {
  const rank = new Uint32Array(values.length);
  let distinct: number;
  if (values instanceof Float64Array) {
    const sorted = Float64Array.from(values).sort();
    let d = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[d++] = sorted[i]!;
    const uniq = sorted.subarray(0, d);
    for (let i = 0; i < values.length; i++) rank[i] = lowerBound(uniq, values[i]!);
    distinct = d;
  } else {
    const uniq = [...new Set(values)].sort();
    const at = new Map(uniq.map((v, i) => [v, i]));
    for (let i = 0; i < values.length; i++) rank[i] = at.get(values[i]!)!;
    distinct = uniq.length;
  }
  if (reverse) for (let i = 0; i < rank.length; i++) rank[i] = distinct - 1 - rank[i]!;
  return { rank, distinct };
}

function lowerBound(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The positions of the items in sort order: each criterion refines the ranks of those before it
 * (rank × distinct + rank of the next key, ranked again), and the position in `items` (mailbox
 * order) breaks the remaining ties. Everything is a native sort of numbers below 2^53.
 */
export function sortOrder(items: readonly SortItem[], criteria: readonly SortCriterion[]): Uint32Array {
  const n = items.length;
  let rank: Uint32Array = new Uint32Array(n);
  for (const [ci, c] of criteria.entries()) {
    const next = ranks(column(items, c.key), c.reverse);
    // the first key's dense ranks are already what refining zeros by them would give
    if (ci === 0) {
      rank = next.rank;
      continue;
    }
    const combined = new Float64Array(n);
    for (let i = 0; i < n; i++) combined[i] = rank[i]! * next.distinct + next.rank[i]!;
    rank = ranks(combined, false).rank;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = rank[i]! * n + i;
  keys.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = keys[i]! % n;
  return order;
}
