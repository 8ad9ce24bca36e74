// STATUS (RFC 3501 6.3.10, STATUS=SIZE RFC 8438, HIGHESTMODSEQ RFC 7162, DELETED RFC 9051, MAILBOXID RFC 8474).
import type { Folder } from '../../../store/types.js';
import { atomArg, expectArgs, listArg, mailboxArg } from '../args.js';
import { bad } from '../errors.js';
import { folderOrFail } from '../folders.js';
import type { ImapSession } from '../session.js';
import type { ImapValue } from '../parser/command-parser.js';
import { mailboxName } from '../wire.js';
import { AUTHED, type CommandSpec } from './types.js';

const ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'SIZE', 'HIGHESTMODSEQ', 'DELETED', 'MAILBOXID']);

export function parseStatusItems(list: ImapValue[]): string[] {
  if (list.length === 0) throw bad('STATUS needs data items');
  return list.map((v) => {
    const item = atomArg(v, 'status item').toUpperCase();
    if (!ITEMS.has(item)) throw bad(`Unknown STATUS item ${item.slice(0, 30)}`);
    return item;
  });
}

/**
 * The untagged "STATUS name (...)" line for one folder. Reading it opens the folder: one
 * objtFolder object for the moment (besides the selected one), so NO [LIMIT] past the limit.
 */
export async function statusLine(s: ImapSession, f: Folder, items: string[]): Promise<string> {
  const { st, deleted } = await s.storeSession!.withObject('objtFolder', async () => ({
    st: await s.ctx.store.folderStatus(s.user!.id, f.id),
    deleted: items.includes('DELETED') ? (await s.ctx.store.listMessageIndex(s.user!.id, f.id)).flags.filter((f) => f.includes('\\Deleted')).length : 0,
  }));
  const values: Record<string, number | string> = {
    MESSAGES: st.messages, RECENT: st.recent, UIDNEXT: st.uidNext, UIDVALIDITY: st.uidValidity, UNSEEN: st.unseen,
    SIZE: st.size, HIGHESTMODSEQ: st.highestModseq, DELETED: deleted, MAILBOXID: `(${f.mailboxId})`,
  };
  return `STATUS ${mailboxName(f.name, s.utf8)} (${items.map((i) => `${i} ${values[i]}`).join(' ')})`;
}

export const statusCommands: Record<string, CommandSpec> = {
  STATUS: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 2);
      const name = mailboxArg(c.args[0], s.utf8);
      const items = parseStatusItems(listArg(c.args[1], 'status item'));
      const f = await folderOrFail(s, name);
      if (items.includes('HIGHESTMODSEQ')) s.enableCondstore(); // RFC 7162 3.1: a CONDSTORE-enabling command
      s.send(await statusLine(s, f, items));
      return 'STATUS completed';
    },
  },
};
