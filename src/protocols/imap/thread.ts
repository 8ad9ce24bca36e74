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

/**
 * Where a long computation may stop for other sessions: null to go on at once (this turn has
 * budget left), else a promise to await (TurnBudget.pause of imap/turns.ts).
 */
export type MaybePause = () => Promise<void> | null;

/** Units of work (a message linked, a node visited) between two asks of `pause`: well under a millisecond. */
const CHECK_EVERY = 1024;

/**
 * Counts units of work and asks `pause` every CHECK_EVERY of them: every loop over the messages
 * goes through one, so that threading 100,000 messages holds the event loop for no more than the
 * turn budget plus one stretch of CHECK_EVERY units at a time.
 */
class Pacer {
  private n = 0;
  constructor(readonly pause: MaybePause) {}
  /** Whether to ask `pause` now (then `await pace.pause()`): a test of a counter, no await, on most calls. */
  due(): boolean {
    return ++this.n % CHECK_EVERY === 0;
  }
  now(): Promise<void> | null {
    return this.pause();
  }
}

/** `items` in mailbox order. */
export async function threadItems(items: readonly SortItem[], algorithm: ThreadAlgorithm, pause: MaybePause = () => null): Promise<ThreadNode[]> {
  const pace = new Pacer(pause);
  const byDate = sortOrder(items, [{ key: 'DATE', reverse: false }]);
  await pace.now();
  const rank = new Uint32Array(items.length);
  byDate.forEach((k, i) => (rank[k] = i));
  return algorithm === 'ORDEREDSUBJECT' ? orderedSubject(items, rank, pace) : references(items, rank, pace);
}

const byRank = (a: ThreadNode, b: ThreadNode): number => a.rank - b.rank;

/**
 * Nodes of distinct ranks below `n` (the threads' roots: each takes its own message's or its first
 * child's place) in rank order, without a comparison sort: 100,000 roots sorted by a comparator
 * took tens of milliseconds in one stretch.
 */
function byRankDistinct<T extends ThreadNode>(nodes: readonly T[], n: number): T[] {
  const at = new Array<T | undefined>(n);
  for (const x of nodes) {
    // never expected: ranks are distinct (each root's is one message's of its own tree); a comparison sort then
    if (at[x.rank] !== undefined || x.rank >= n) return [...nodes].sort(byRank);
    at[x.rank] = x;
  }
  const out: T[] = [];
  for (const x of at) if (x) out.push(x);
  return out;
}

/** Sorts siblings by date; a dummy then takes its first child's place. */
function sortChildren(n: ThreadNode): void {
  if (n.children.length > 1) n.children.sort(byRank);
  if (!n.item) n.rank = n.children[0]!.rank;
}

/**
 * ORDEREDSUBJECT: messages of one base subject form a thread; its oldest message is the parent
 * of all others; threads ordered by that first message.
 */
async function orderedSubject(items: readonly SortItem[], rank: Uint32Array, pace: Pacer): Promise<ThreadNode[]> {
  const threads: ThreadNode[] = [];
  let current: ThreadNode | null = null;
  const order = sortOrder(items, [{ key: 'SUBJECT', reverse: false }, { key: 'DATE', reverse: false }]);
  await pace.now();
  for (const k of order) {
    if (pace.due()) await pace.pause();
    const item = items[k]!;
    const node: ThreadNode = { item, rank: rank[k]!, children: [] };
    if (current && current.item!.facts.subject === item.facts.subject) current.children.push(node);
    else threads.push((current = node));
  }
  return byRankDistinct(threads, items.length);
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
async function references(items: readonly SortItem[], rank: Uint32Array, pace: Pacer): Promise<ThreadNode[]> {
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
    if (pace.due()) await pace.pause();
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
  // (2) the roots; (4) dummies pruned
  let roots = await prune(all.filter((c) => !c.parent), pace);
  // (5) roots by date, a dummy by its first child
  for (const r of roots) {
    if (pace.due()) await pace.pause();
    sortChildren(r);
  }
  roots = byRankDistinct(roots, items.length);
  // (6) threads of one base subject gathered
  roots = await mergeBySubject(roots, pace);
  // (7) every set of siblings by date, children before their parents (a dummy sorts by its first child)
  for (const c of await postOrder(roots, pace)) {
    if (pace.due()) await pace.pause();
    sortChildren(c);
  }
  return byRankDistinct(roots, items.length);
}

/**
 * (4) A dummy without children goes; one with children gives way to them, except at the root
 * with more than one child (its children would otherwise become separate threads). Children
 * before parents, without recursion: a thread may be as deep as the folder is big.
 */
async function prune(roots: Container[], pace: Pacer): Promise<Container[]> {
  for (const c of await postOrder(roots, pace)) {
    if (pace.due()) await pace.pause();
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
async function postOrder(roots: readonly Container[], pace: Pacer): Promise<Container[]> {
  const stack: Container[] = [...roots];
  const pre: Container[] = [];
  while (stack.length) {
    if (pace.due()) await pace.pause();
    const c = stack.pop()!;
    pre.push(c);
    for (const ch of c.children) stack.push(ch);
  }
  return pre.reverse();
}

/** The facts a thread's subject comes from: its message, or a dummy's first child. */
const subjectOf = (c: Container) => (c.item ?? c.children[0]!.item!).facts;

/** (6) Threads whose roots share a base subject become one (RFC 5256 2.2 step 6). */
async function mergeBySubject(roots: Container[], pace: Pacer): Promise<Container[]> {
  const table = new Map<string, Container>();
  for (const c of roots) {
    if (pace.due()) await pace.pause();
    const s = subjectOf(c);
    if (s.subject === '') continue;
    const old = table.get(s.subject);
    if (!old || (!c.item && old.item) || (subjectOf(old).replyOrForward && !s.replyOrForward && old.item && c.item)) table.set(s.subject, c);
  }
  const gone = new Set<Container>();
  const replaced = new Map<Container, Container>();
  for (const c of roots) {
    if (pace.due()) await pace.pause();
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

/** The THREAD response's threads: "(1 2 (3)(4))" per thread, `id` naming each message; `pause` asked between pieces. */
export async function formatThreads(threads: readonly ThreadNode[], id: (i: SortItem) => number, pause: MaybePause = () => null): Promise<string> {
  const pieces: string[] = [];
  for (let i = 0; i < threads.length; i += CHECK_EVERY) {
    if (i > 0) await pause();
    let piece = '';
    for (const t of threads.slice(i, i + CHECK_EVERY)) piece += `(${branch(t, id)})`;
    pieces.push(piece);
  }
  return pieces.join('');
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
