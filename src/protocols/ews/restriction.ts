/**
 * FindItem's Restriction and SortOrder on the common fields (subject, read, dates, size,
 * attachments, sender, categories, message id), evaluated over the folder's list facts.
 */
import { EwsError } from './call.js';
import { categoriesOf, type StoredItem } from './items.js';
import { child, type XmlElement } from './xml.js';

type Value = string | number | boolean | string[] | null;

function fieldValue(m: StoredItem, uri: string): Value {
  switch (uri.replace(/^\w+:/, '')) {
    case 'Subject': return m.subject;
    case 'IsRead': return m.flags.includes('\\Seen');
    case 'DateTimeReceived': case 'DateTimeCreated': return m.internalDate.getTime();
    case 'DateTimeSent': return (m.date ?? m.internalDate).getTime();
    case 'Size': return m.size;
    case 'HasAttachments': return m.hasAttachments;
    case 'From': case 'Sender': return m.from;
    case 'DisplayTo': case 'ToRecipients': return m.to;
    case 'Categories': return categoriesOf(m.flags);
    case 'InternetMessageId': return m.messageId;
    case 'IsDraft': return m.flags.includes('\\Draft');
    case 'ItemClass': return 'IPM.Note';
    default: throw new EwsError('ErrorUnsupportedPathForQuery', `Restrictions on ${uri} are not supported`);
  }
}

function constant(el: XmlElement, like: Value): Value {
  const c = child(child(el, 'FieldURIOrConstant'), 'Constant') ?? child(el, 'Constant');
  const v = c?.attrs['Value'] ?? '';
  if (typeof like === 'number') {
    const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (Number.isNaN(t)) throw new EwsError('ErrorInvalidValueForProperty', `"${v}" is not a valid value here`);
    return t;
  }
  if (typeof like === 'boolean') return v === 'true' || v === '1';
  return v;
}

const uriOf = (el: XmlElement): string => (child(el, 'FieldURI')?.attrs['FieldURI'] ?? child(el, 'IndexedFieldURI')?.attrs['FieldURI'] ?? '');

const cmp = (a: Value, b: Value): number => {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a ?? '').localeCompare(String(b ?? ''), undefined, { sensitivity: 'base' });
};

/** A predicate over items for a restriction element (the child of <m:Restriction>). */
export function compileRestriction(el: XmlElement): (m: StoredItem) => boolean {
  switch (el.name) {
    case 'And': { const ps = el.children.map(compileRestriction); return (m) => ps.every((p) => p(m)); }
    case 'Or': { const ps = el.children.map(compileRestriction); return (m) => ps.some((p) => p(m)); }
    case 'Not': { const p = compileRestriction(el.children[0]!); return (m) => !p(m); }
    case 'Exists': { const uri = uriOf(el); return (m) => { const v = fieldValue(m, uri); return v !== null && v !== '' && !(Array.isArray(v) && !v.length); }; }
    case 'Contains': {
      const uri = uriOf(el);
      const want = (child(el, 'Constant')?.attrs['Value'] ?? '');
      const ignoreCase = (el.attrs['ContainmentComparison'] ?? 'Exact').includes('Ignore');
      const mode = el.attrs['ContainmentMode'] ?? 'FullString';
      const norm = (s: string) => (ignoreCase ? s.toLowerCase() : s);
      const test = (s: string) => {
        const a = norm(s), b = norm(want);
        return mode === 'Substring' ? a.includes(b) : mode === 'Prefixed' ? a.startsWith(b) : mode === 'PrefixOnWords' ? a.split(/\s+/).some((w) => w.startsWith(b)) : a === b;
      };
      return (m) => { const v = fieldValue(m, uri); return Array.isArray(v) ? v.some(test) : test(String(v ?? '')); };
    }
    case 'IsEqualTo': case 'IsNotEqualTo': case 'IsGreaterThan': case 'IsGreaterThanOrEqualTo': case 'IsLessThan': case 'IsLessThanOrEqualTo': {
      const uri = uriOf(el);
      let target: Value | undefined;
      const op = el.name;
      return (m) => {
        const v = fieldValue(m, uri);
        if (target === undefined) target = constant(el, v);
        const c = Array.isArray(v) ? (v.some((x) => cmp(x, target!) === 0) ? 0 : 1) : cmp(v, target);
        return op === 'IsEqualTo' ? c === 0 : op === 'IsNotEqualTo' ? c !== 0 : op === 'IsGreaterThan' ? c > 0
          : op === 'IsGreaterThanOrEqualTo' ? c >= 0 : op === 'IsLessThan' ? c < 0 : c <= 0;
      };
    }
    default:
      throw new EwsError('ErrorUnsupportedQueryFilter', `The restriction ${el.name} is not supported`);
  }
}

/** Sorts by SortOrder's FieldOrders (first wins); newest received first when none is given. */
export function sortItems(items: StoredItem[], sortOrder: XmlElement | undefined): StoredItem[] {
  const orders = (sortOrder?.children ?? []).filter((c) => c.name === 'FieldOrder').map((o) => ({ uri: uriOf(o), desc: o.attrs['Order'] !== 'Ascending' }));
  if (!orders.length) orders.push({ uri: 'item:DateTimeReceived', desc: true });
  return [...items].sort((a, b) => {
    for (const o of orders) {
      const c = cmp(fieldValue(a, o.uri), fieldValue(b, o.uri));
      if (c) return o.desc ? -c : c;
    }
    return b.uid - a.uid;
  });
}
