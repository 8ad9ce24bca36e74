/**
 * THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 sections 2.2 and 2.3): threads as trees
 * of messages, and their wire form "(1 2 (3)(4 5))". Sibling order is by sent date, then by
 * mailbox order (sort.ts sentDate): each message's place in that order is worked out once, by
 * one native sort, and siblings compare by it.
 */
import { sortOrder, type SortItem } from './sort.js';

/** A node: a message, or a dummy (item null) standing for a message the mailbox lacks. */
export interface ThreadNode {
  item: SortItem | null;
  /** Place in (sent date, mailbox order): the message's, a dummy's first child's. */
  rank: number;
  children: ThreadNode[];
}

interface Container extends ThreadNode {
  parent: Container | null;
  children: Container[];
}

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';
export const THREAD_ALGORITHMS: readonly ThreadAlgorithm[] = ['ORDEREDSUBJECT', 'REFERENCES'];

/** `items` in mailbox order. */
/**
 * `pause` is awaited between the steps of REFERENCES and every PAUSE_EVERY messages while linking,
 * so that threading a big folder does not hold the event loop for the whole of it.
 */
export async function threadItems(items: readonly SortItem[], algorithm: ThreadAlgorithm, pause: () => Promise<void> = async () => undefined): Promise<ThreadNode[]> {
  const byDate = sortOrder(items, [{ key: 'DATE', reverse: false }]);
  const rank = new Uint32Array(items.length);
  byDate.forEach((k, i) => (rank[k] = i));
  await pause();
  return algorithm === 'ORDEREDSUBJECT' ? orderedSubject(items, rank) : references(items, rank, pause);
}

const byRank = (a: ThreadNode, b: ThreadNode): number => a.rank - b.rank;

/** Sorts siblings by date; a dummy then takes its first child's place. */
function sortChildren(n: ThreadNode): void {
  if (n.children.length > 1) n.children.sort(byRank);
  if (!n.item) n.rank = n.children[0]!.rank;
}

/**
 * ORDEREDSUBJECT: messages of one base subject form a thread; its oldest message is the parent
 * of all others; threads ordered by that first message.
 */
function orderedSubject(items: readonly SortItem[], rank: Uint32Array): ThreadNode[] {
  const threads: ThreadNode[] = [];
  let current: ThreadNode | null = null;
  for (const k of sortOrder(items, [{ key: 'SUBJECT', reverse: false }, { key: 'DATE', reverse: false }])) {
    const item = items[k]!;
    const node: ThreadNode = { item, rank: rank[k]!, children: [] };
    if (current && current.item!.facts.subject === item.facts.subject) current.children.push(node);
    else threads.push((current = node));
  }
  return threads.sort(byRank);
}

/** Whether `a` is `b` or one of its ancestors. */
function isAncestorOrSelf(a: Container, b: Container): boolean {
  for (let c: Container | null = b; c; c = c.parent) if (c === a) return true;
  return false;
}

function setParent(child: Container, parent: Container | null): void {
  if (child.parent) {
    const siblings = child.parent.children;
    siblings.splice(siblings.indexOf(child), 1);
  }
  child.parent = parent;
  if (parent) parent.children.push(child);
}

const container = (item: SortItem | null = null, rank = 0): Container => ({ item, rank, parent: null, children: [] });

/** REFERENCES (RFC 5256 2.2 steps 1–7): the JWZ algorithm, subject merging included. */
const PAUSE_EVERY = 20_000;

async function references(items: readonly SortItem[], rank: Uint32Array, pause: () => Promise<void>): Promise<ThreadNode[]> {
  const byId = new Map<string, Container>();
  const all: Container[] = [];
  const lookup = (id: string): Container => {
    let c = byId.get(id);
    if (!c) {
      byId.set(id, (c = container()));
      all.push(c);
    }
    return c;
  };
  // (1) containers by Message-ID, linked by References / In-Reply-To
  for (let k = 0; k < items.length; k++) {
    if (k > 0 && k % PAUSE_EVERY === 0) await pause();
    const item = items[k]!;
    const id = item.facts.messageId;
    let c = id === null ? null : lookup(id);
    // (1.A) no Message-ID, or one a message seen before already has: a container of its own
    if (!c || c.item) all.push((c = container()));
    c.item = item;
    c.rank = rank[k]!;
    // (1.B) each reference the parent of the next, unless that one has a parent or it would loop
    let prev: Container | null = null;
    for (const ref of item.facts.references) {
      const r = lookup(ref);
      if (prev && !r.parent && !isAncestorOrSelf(r, prev)) setParent(r, prev);
      prev = r;
    }
    // (1.C) the last reference is this message's parent (whatever was presumed before), unless it would loop
    if (prev && !isAncestorOrSelf(c, prev)) {
      if (c.parent !== prev) setParent(c, prev);
    } else if (c.parent) setParent(c, null);
  }
  await pause();
  // (2) the roots; (4) dummies pruned
  let roots = prune(all.filter((c) => !c.parent));
  // (5) roots by date, a dummy by its first child
  for (const r of roots) sortChildren(r);
  roots.sort(byRank);
  await pause();
  // (6) threads of one base subject gathered
  roots = mergeBySubject(roots);
  await pause();
  // (7) every set of siblings by date, children before their parents (a dummy sorts by its first child)
  for (const c of postOrder(roots)) sortChildren(c);
  return roots.sort(byRank);
}

/**
 * (4) A dummy without children goes; one with children gives way to them, except at the root
 * with more than one child (its children would otherwise become separate threads). Children
 * before parents, without recursion: a thread may be as deep as the folder is big.
 */
function prune(roots: Container[]): Container[] {
  for (const c of postOrder(roots)) {
    const kept: Container[] = [];
    for (const ch of c.children) {
      if (ch.item) kept.push(ch);
      else for (const g of ch.children) kept.push(g); // already pruned: messages only
    }
    for (const ch of kept) ch.parent = c;
    c.children = kept;
  }
  const out: Container[] = [];
  for (const r of roots) {
    if (r.item || r.children.length > 1) out.push(r);
    else if (r.children.length === 1) {
      r.children[0]!.parent = null;
      out.push(r.children[0]!);
    }
  }
  return out;
}

/** Every node under the roots, each after all of its descendants. */
function postOrder(roots: readonly Container[]): Container[] {
  const stack: Container[] = [...roots];
  const pre: Container[] = [];
  while (stack.length) {
    const c = stack.pop()!;
    pre.push(c);
    for (const ch of c.children) stack.push(ch);
  }
  return pre.reverse();
}

/** The facts a thread's subject comes from: its message, or a dummy's first child. */
const subjectOf = (c: Container) => (c.item ?? c.children[0]!.item!).facts;

/** (6) Threads whose roots share a base subject become one (RFC 5256 2.2 step 6). */
function mergeBySubject(roots: Container[]): Container[] {
  const table = new Map<string, Container>();
  for (const c of roots) {
    const s = subjectOf(c);
    if (s.subject === '') continue;
    const old = table.get(s.subject);
    if (!old || (!c.item && old.item) || (subjectOf(old).replyOrForward && !s.replyOrForward && old.item && c.item)) table.set(s.subject, c);
  }
  const gone = new Set<Container>();
  const replaced = new Map<Container, Container>();
  for (const c of roots) {
    const s = subjectOf(c);
    // a root already put under another thread is done with
    if (s.subject === '' || gone.has(c) || c.parent) continue;
    const t = table.get(s.subject)!;
    if (t === c) continue;
    if (!t.item && !c.item) {
      for (const ch of c.children) ch.parent = t;
      t.children.push(...c.children);
      c.children = [];
      gone.add(c);
    } else if (!t.item) {
      c.parent = t;
      t.children.push(c);
      gone.add(c);
    } else if (!c.item) {
      // the dummy takes the table's place
      t.parent = c;
      c.children.push(t);
      gone.add(t);
      table.set(s.subject, c);
    } else if (!t.item.facts.replyOrForward && s.replyOrForward) {
      c.parent = t;
      t.children.push(c);
      gone.add(c);
    } else {
      const d: Container = container();
      replaced.set(t, d);
      t.parent = d;
      c.parent = d;
      d.children.push(t, c);
      gone.add(c);
      table.set(s.subject, d);
    }
  }
  const out: Container[] = [];
  for (let r of roots) {
    if (gone.has(r)) continue;
    while (replaced.has(r)) r = replaced.get(r)!;
    out.push(r);
  }
  return out;
}

/** The THREAD response's threads: "(1 2 (3)(4))" per thread, `id` naming each message. */
export function formatThreads(threads: readonly ThreadNode[], id: (i: SortItem) => number): string {
  return threads.map((t) => `(${branch(t, id)})`).join('');
}

/** A node and its descendants: a chain of only children as "1 2 3", then any fork as "(..)(..)". */
function branch(n: ThreadNode, id: (i: SortItem) => number): string {
  const parts: string[] = [];
  let c = n;
  for (;;) {
    if (c.item) parts.push(String(id(c.item)));
    if (c.children.length === 1) {
      c = c.children[0]!;
      continue;
    }
    if (c.children.length > 1) parts.push(c.children.map((ch) => `(${branch(ch, id)})`).join(''));
    return parts.join(' ');
  }
}
