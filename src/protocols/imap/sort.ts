/**
 * SORT criteria (RFC 5256 section 3, DISPLAYFROM/DISPLAYTO of RFC 5957) and the ordering they
 * give. Keys come from sort-facts.ts; messages that compare equal keep mailbox order.
 */
import { ImapParseError, type ImapValue } from './parser/command-parser.js';
import type { SortFacts } from './sort-facts.js';

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
 * The items in sort order. Each key is taken out into a column first, so the comparisons
 * touch flat arrays only; equal messages stay in sequence order (RFC 5256 3), whatever REVERSE says.
 */
export function sortItems(items: readonly SortItem[], criteria: readonly SortCriterion[]): SortItem[] {
  const cols = criteria.map((c) => ({ values: column(items, c.key), sign: c.reverse ? -1 : 1 }));
  const order = Uint32Array.from(items.keys());
  const seqs = Uint32Array.from(items, (i) => i.seq);
  order.sort((a, b) => {
    for (const { values, sign } of cols) {
      const x = values[a]!;
      const y = values[b]!;
      if (x !== y) return (x < y ? -1 : 1) * sign;
    }
    return seqs[a]! - seqs[b]!;
  });
  return Array.from(order, (k) => items[k]!);
}
