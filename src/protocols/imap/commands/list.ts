// LIST (RFC 3501, LIST-EXTENDED RFC 5258 with \NonExistent and RECURSIVEMATCH, SPECIAL-USE RFC 6154, LIST-STATUS RFC 5819) and LSUB.
import type { Folder } from '../../../store/types.js';
import { atomArg, listArg, normaliseInbox } from '../args.js';
import { bad } from '../errors.js';
import type { ImapValue } from '../parser/command-parser.js';
import { decodeMutf7 } from '../parser/mutf7.js';
import type { ImapSession } from '../session.js';
import { mailboxName } from '../wire.js';
import { parseStatusItems, statusLine } from './status.js';
import { AUTHED, type CommandSpec } from './types.js';

/**
 * A reference or pattern as store text; null for one that is not modified UTF-7, which no
 * mailbox name can match (it is a valid astring all the same: the LIST answers nothing).
 */
function patternText(s: ImapSession, v: ImapValue | undefined): string | null {
  if (!v || v.t === 'list') throw bad('Expected mailbox pattern');
  const raw = v.t === 'atom' ? v.v : v.v.toString(s.utf8 ? 'utf8' : 'latin1');
  return s.utf8 ? raw : decodeMutf7(raw);
}

/** "*" matches anything, "%" anything but the separator; INBOX matches in any case. */
function matcher(pattern: string): (name: string) => boolean {
  const p = normaliseInbox(pattern);
  const re = new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/%/g, '[^/]*') + '$', 's');
  return (name) => re.test(name);
}

/** One name LIST may talk about: a mailbox, an implied parent, or a subscription. */
interface Entry {
  name: string;
  folder: Folder | null; // null: no mailbox of this name
  hasChildren: boolean; // mailboxes exist below it
  subscribed: boolean;
}

const parents = (name: string) => name.split('/').slice(0, -1).map((_, i, levels) => levels.slice(0, i + 1).join('/'));

/** Every name with its state, INBOX first, then in code point order (a parent before its children). */
function entries(folders: Folder[], subscriptions: string[]): Entry[] {
  const all = new Map<string, Entry>();
  const entry = (name: string) => {
    let e = all.get(name);
    if (!e) all.set(name, (e = { name, folder: null, hasChildren: false, subscribed: false }));
    return e;
  };
  for (const f of folders) {
    entry(f.name).folder = f;
    for (const p of parents(f.name)) entry(p).hasChildren = true;
  }
  for (const name of subscriptions) {
    entry(name).subscribed = true;
    for (const p of parents(name)) entry(p);
  }
  return [...all.values()].sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

interface ListOptions {
  subscribedOnly: boolean;
  specialUseOnly: boolean;
  /** RECURSIVEMATCH (RFC 5258 3.1): also parents of matches, with CHILDINFO. */
  recursive: boolean;
  returnSubscribed: boolean;
  status: string[] | null;
  lsub: boolean;
}

const specialUse = (f: Folder | null) => (f?.specialUse && f.specialUse !== '\\Inbox' ? f.specialUse : null);

async function list(s: ImapSession, reference: string | null, given: Array<string | null>, o: ListOptions): Promise<void> {
  if (reference === null) return;
  const ref = reference;
  const patterns = given.filter((p): p is string => p !== null);
  if (patterns.length === 0) return;
  if (given.length === 1 && patterns[0] === '' && !o.lsub) {
    // RFC 3501 6.3.8: the hierarchy delimiter and root
    s.send('LIST (\\Noselect) "/" ""');
    return;
  }
  const userId = s.user!.id;
  const all = entries(await s.ctx.store.listFolders(userId), await s.ctx.store.listSubscriptions(userId));
  const matchers = patterns.map((p) => matcher(ref + p));
  const matchesPattern = (name: string) => matchers.some((m) => m(name));
  const bySubscription = o.subscribedOnly || o.lsub;
  // the selection criteria: subscribed names need not exist (RFC 5258 3.1), other LISTs list what exists
  const selected = (e: Entry) => (bySubscription ? e.subscribed : e.folder !== null || e.hasChildren) && (!o.specialUseOnly || specialUse(e.folder) !== null);
  const criteria = [...(o.subscribedOnly ? ['"SUBSCRIBED"'] : []), ...(o.specialUseOnly ? ['"SPECIAL-USE"'] : [])].join(' ');
  // for RECURSIVEMATCH and LSUB: names with selected descendants, and with ones the pattern misses
  const aboveSelected = new Set<string>();
  const aboveUnmatched = new Set<string>();
  if (o.recursive || o.lsub) {
    for (const d of all) {
      if (!selected(d)) continue;
      const missed = !matchesPattern(d.name);
      for (const p of parents(d.name)) {
        aboveSelected.add(p);
        if (missed) aboveUnmatched.add(p);
      }
    }
  }
  for (const e of all) {
    if (!matchesPattern(e.name)) continue;
    const meets = selected(e);
    // RFC 5258 3.3 2B and RFC 3501 6.3.9: a parent that is not selected itself stands in for
    // selected descendants the pattern does not reach ("%")
    if (!meets && !aboveUnmatched.has(e.name)) continue;
    const f = e.folder;
    const use = specialUse(f);
    const attrs: string[] = [];
    if (o.lsub) {
      if (!meets) attrs.push('\\Noselect'); // LSUB's own meaning: not subscribed, but children are
    } else {
      if (!f) attrs.push(e.hasChildren ? '\\Noselect' : '\\NonExistent');
      attrs.push(e.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      if (use) attrs.push(use);
      if (e.subscribed && (o.returnSubscribed || o.subscribedOnly)) attrs.push('\\Subscribed');
    }
    const childInfo = o.recursive && aboveSelected.has(e.name) ? ` ("CHILDINFO" (${criteria}))` : '';
    s.send(`${o.lsub ? 'LSUB' : 'LIST'} (${attrs.join(' ')}) "/" ${mailboxName(e.name, s.utf8)}${childInfo}`);
    if (o.status && f && meets) s.send(await statusLine(s, f, o.status));
  }
}

export const listCommands: Record<string, CommandSpec> = {
  LIST: {
    states: AUTHED,
    run: async (s, c) => {
      const args = [...c.args];
      const o: ListOptions = { subscribedOnly: false, specialUseOnly: false, recursive: false, returnSubscribed: false, status: null, lsub: false };
      if (args[0]?.t === 'list') {
        for (const v of args.shift()!.v as ImapValue[]) {
          const opt = atomArg(v, 'selection option').toUpperCase();
          if (opt === 'SUBSCRIBED') o.subscribedOnly = true;
          else if (opt === 'SPECIAL-USE') o.specialUseOnly = true;
          else if (opt === 'RECURSIVEMATCH') o.recursive = true;
          else if (opt !== 'REMOTE') throw bad(`Unknown selection option ${opt.slice(0, 30)}`);
        }
        // RFC 5258 3.1: RECURSIVEMATCH alone (or with REMOTE only) selects nothing to recurse on
        if (o.recursive && !o.subscribedOnly && !o.specialUseOnly) throw bad('RECURSIVEMATCH needs another selection option');
      }
      if (args.length !== 2 && args.length !== 4) throw bad('LIST needs a reference and a pattern');
      const ref = patternText(s, args[0]);
      const pats = args[1]!.t === 'list' ? args[1]!.v.map((v) => patternText(s, v)) : [patternText(s, args[1])];
      if (args.length === 4) {
        if (atomArg(args[2], 'RETURN').toUpperCase() !== 'RETURN') throw bad('Expected RETURN');
        const ret = listArg(args[3], 'return option');
        for (let i = 0; i < ret.length; i++) {
          const opt = atomArg(ret[i], 'return option').toUpperCase();
          if (opt === 'SUBSCRIBED') o.returnSubscribed = true;
          else if (opt === 'STATUS') o.status = parseStatusItems(listArg(ret[++i], 'status item'));
          else if (opt !== 'CHILDREN' && opt !== 'SPECIAL-USE') throw bad(`Unknown return option ${opt.slice(0, 30)}`);
        }
      }
      await list(s, ref, pats, o);
      return 'LIST completed';
    },
  },
  LSUB: {
    states: AUTHED,
    run: async (s, c) => {
      if (c.args.length !== 2) throw bad('LSUB needs a reference and a pattern');
      await list(s, patternText(s, c.args[0]), [patternText(s, c.args[1])], {
        subscribedOnly: false, specialUseOnly: false, recursive: false, returnSubscribed: false, status: null, lsub: true,
      });
      return 'LSUB completed';
    },
  },
};
