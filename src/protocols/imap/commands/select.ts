// SELECT, EXAMINE (with CONDSTORE / QRESYNC parameters), CLOSE, UNSELECT, CHECK.
import { atomArg, expectArgs, listArg, mailboxArg } from '../args.js';
import { bad, no } from '../errors.js';
import { folderOrFail } from '../folders.js';
import { MailboxView } from '../mailbox-view.js';
import type { ParsedCommand } from '../parser/command-parser.js';
import { parseQresyncParam, resync, type QresyncParam } from '../qresync.js';
import type { ImapSession } from '../session.js';
import { AUTHED, SELECTED, type CommandSpec, type ImapOk } from './types.js';

function parseSelectParams(s: ImapSession, c: ParsedCommand): QresyncParam | null {
  if (!c.args[1]) return null;
  const params = listArg(c.args[1], 'select parameter');
  let q: QresyncParam | null = null;
  for (let i = 0; i < params.length; i++) {
    const p = atomArg(params[i], 'select parameter').toUpperCase();
    if (p === 'CONDSTORE') s.enabled.add('CONDSTORE');
    else if (p === 'QRESYNC') {
      if (!s.enabled.has('QRESYNC')) throw bad('ENABLE QRESYNC first');
      q = parseQresyncParam(params[++i]);
    } else throw bad(`Unknown SELECT parameter ${p.slice(0, 30)}`);
  }
  return q;
}

async function open(s: ImapSession, c: ParsedCommand, readOnly: boolean): Promise<ImapOk> {
  expectArgs(c.args, 1, 2);
  const name = mailboxArg(c.args[0], s.utf8);
  const q = parseSelectParams(s, c);
  if (s.selected) {
    // RFC 3501 6.3.1: a SELECT closes the current mailbox first, even if it fails
    s.deselect();
    s.send('OK [CLOSED] Previous mailbox closed');
  }
  const folder = await folderOrFail(s, name);
  const release = await s.storeSession!.openObject('objtFolder'); // NO [LIMIT] past MaxObjsPerMapiSession.objtFolder
  const rev2 = s.enabled.has('IMAP4rev2');
  const view = new MailboxView(s.ctx.store, s.user!.id, folder, readOnly, rev2 ? 'none' : readOnly ? 'peek' : 'claim');
  const stopWatching = s.watchFolder(view);
  const close = () => {
    stopWatching();
    release();
  };
  try {
    await view.load();
    // deleted while it loaded (its notification came before the view was selected)
    if (view.deleted) throw no(`Mailbox ${name.slice(0, 100)} does not exist`, 'NONEXISTENT');
  } catch (err) {
    close();
    throw err;
  }
  s.selected = { view, release: close };
  s.state = 'selected';
  let firstUnseen = 0;
  // messages share flag lists (a handful per folder): each list is looked into once in a row
  let seen: ReadonlyArray<string> | null = null;
  for (let seq = 1; seq <= view.exists; seq++) {
    const flags = view.flagsAt(seq);
    if (flags === seen) continue;
    if (!flags.includes('\\Seen')) {
      firstUnseen = seq;
      break;
    }
    seen = flags;
  }
  for (const line of view.flagsLines()) s.send(line);
  s.send(`${view.exists} EXISTS`);
  if (!rev2) s.send(`${view.recentCount} RECENT`);
  if (firstUnseen && !rev2) s.send(`OK [UNSEEN ${firstUnseen}] First unseen`);
  s.send(`OK [UIDVALIDITY ${folder.uidValidity}] UIDs valid`);
  s.send(`OK [UIDNEXT ${folder.uidNext}] Predicted next UID`);
  s.send(`OK [HIGHESTMODSEQ ${folder.highestModseq}] Highest`);
  s.send(`OK [MAILBOXID (${folder.mailboxId})] Ok`); // RFC 8474 4.2
  if (q && q.uidValidity === folder.uidValidity) await resync(s, view, q);
  return readOnly ? { code: 'READ-ONLY', text: 'EXAMINE completed' } : { code: 'READ-WRITE', text: 'SELECT completed' };
}

export const selectCommands: Record<string, CommandSpec> = {
  SELECT: { states: AUTHED, run: (s, c) => open(s, c, false) },
  EXAMINE: { states: AUTHED, run: (s, c) => open(s, c, true) },
  CLOSE: {
    states: SELECTED,
    run: async (s, c) => {
      expectArgs(c.args, 0);
      const view = s.view;
      s.deselect();
      // RFC 3501 6.4.2: silently expunge when read-write, no untagged EXPUNGE
      if (!view.readOnly) await s.ctx.store.expunge(s.user!.id, view.folder.id).catch(() => undefined);
      return 'CLOSE completed';
    },
  },
  UNSELECT: {
    states: SELECTED,
    run: async (s, c) => {
      expectArgs(c.args, 0);
      s.deselect();
      return 'UNSELECT completed';
    },
  },
  CHECK: { states: SELECTED, run: async () => 'CHECK completed' },
};
