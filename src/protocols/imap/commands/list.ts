// LIST (RFC 3501, LIST-EXTENDED RFC 5258 basics, SPECIAL-USE RFC 6154, LIST-STATUS RFC 5819) and LSUB.
import type { Folder } from '../../../store/types.js';
import { atomArg, listArg, normaliseInbox } from '../args.js';
import { bad } from '../errors.js';
import type { ImapValue } from '../parser/command-parser.js';
import { decodeMutf7 } from '../parser/mutf7.js';
import type { ImapSession } from '../session.js';
import { mailboxName } from '../wire.js';
import { parseStatusItems, statusLine } from './status.js';
import { AUTHED, type CommandSpec } from './types.js';

interface Entry {
  name: string;
  folder: Folder | null; // null: an implied parent that does not exist itself
}

function patternText(s: ImapSession, v: ImapValue | undefined): string {
  if (!v || v.t === 'list') throw bad('Expected mailbox pattern');
  const raw = v.t === 'atom' ? v.v : v.v.toString(s.utf8 ? 'utf8' : 'latin1');
  const text = s.utf8 ? raw : decodeMutf7(raw);
  if (text === null) throw bad('Pattern is not valid modified UTF-7');
  return text;
}

/** "*" matches anything, "%" anything but the separator; INBOX matches in any case. */
function matcher(pattern: string): (name: string) => boolean {
  const p = normaliseInbox(pattern);
  const re = new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/%/g, '[^/]*') + '$', 's');
  return (name) => re.test(name);
}

function entries(folders: Folder[]): Entry[] {
  const byName = new Map(folders.map((f) => [f.name, f]));
  const all = new Map<string, Entry>();
  for (const f of folders) {
    all.set(f.name, { name: f.name, folder: f });
    const levels = f.name.split('/');
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join('/');
      if (!byName.has(parent) && !all.has(parent)) all.set(parent, { name: parent, folder: null });
    }
  }
  return [...all.values()].sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

interface ListOptions {
  subscribedOnly: boolean;
  specialUseOnly: boolean;
  returnSubscribed: boolean;
  status: string[] | null;
  lsub: boolean;
}

async function list(s: ImapSession, ref: string, patterns: string[], o: ListOptions): Promise<void> {
  if (patterns.length === 1 && patterns[0] === '' && !o.lsub) {
    // RFC 3501 6.3.8: the hierarchy delimiter and root
    s.send('LIST (\\Noselect) "/" ""');
    return;
  }
  const folders = await s.ctx.store.listFolders(s.user!.id);
  const all = entries(folders);
  const names = all.map((e) => e.name);
  const matchers = patterns.map((p) => matcher(ref + p));
  for (const e of all) {
    if (!matchers.some((m) => m(e.name))) continue;
    const f = e.folder;
    if ((o.subscribedOnly || o.lsub) && !f?.subscribed) continue;
    const use = f?.specialUse && f.specialUse !== '\\Inbox' ? f.specialUse : null;
    if (o.specialUseOnly && !use) continue;
    const attrs: string[] = [];
    if (!f) attrs.push('\\Noselect');
    if (!o.lsub) attrs.push(names.some((n) => n.startsWith(e.name + '/')) ? '\\HasChildren' : '\\HasNoChildren');
    if (use) attrs.push(use);
    if (f?.subscribed && !o.lsub && (o.returnSubscribed || o.subscribedOnly)) attrs.push('\\Subscribed');
    s.send(`${o.lsub ? 'LSUB' : 'LIST'} (${attrs.join(' ')}) "/" ${mailboxName(e.name, s.utf8)}`);
    if (o.status && f) s.send(await statusLine(s, f, o.status));
  }
}

export const listCommands: Record<string, CommandSpec> = {
  LIST: {
    states: AUTHED,
    run: async (s, c) => {
      const args = [...c.args];
      const o: ListOptions = { subscribedOnly: false, specialUseOnly: false, returnSubscribed: false, status: null, lsub: false };
      if (args[0]?.t === 'list') {
        for (const v of args.shift()!.v as ImapValue[]) {
          const opt = atomArg(v, 'selection option').toUpperCase();
          if (opt === 'SUBSCRIBED') o.subscribedOnly = true;
          else if (opt === 'SPECIAL-USE') o.specialUseOnly = true;
          else if (opt !== 'REMOTE' && opt !== 'RECURSIVEMATCH') throw bad(`Unknown selection option ${opt.slice(0, 30)}`);
        }
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
        subscribedOnly: true, specialUseOnly: false, returnSubscribed: false, status: null, lsub: true,
      });
      return 'LSUB completed';
    },
  },
};
