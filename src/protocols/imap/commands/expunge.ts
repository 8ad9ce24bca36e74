// EXPUNGE and UID EXPUNGE (RFC 4315).
import { expectArgs } from '../args.js';
import { no } from '../errors.js';
import { messageSetArg } from '../saved-result.js';
import type { ImapSession } from '../session.js';
import { SELECTED, type CommandSpec } from './types.js';

async function expunge(s: ImapSession, uids?: number[]): Promise<void> {
  const view = s.view;
  if (view.readOnly) throw no('Mailbox is read-only (EXAMINE)', 'CANNOT');
  const removed = await s.ctx.store.expunge(s.user!.id, view.folder.id, uids);
  for (const line of view.remove(removed, s.viewOptions)) s.send(line);
}

export const expungeCommands: Record<string, CommandSpec> = {
  EXPUNGE: {
    states: SELECTED,
    run: async (s, c) => {
      expectArgs(c.args, 0);
      await expunge(s);
      return 'EXPUNGE completed';
    },
  },
  'UID EXPUNGE': {
    states: SELECTED,
    run: async (s, c) => {
      expectArgs(c.args, 1);
      const uids = messageSetArg(s.view, c.args[0], true).uids;
      if (uids.length) await expunge(s, uids);
      return 'UID EXPUNGE completed';
    },
  },
};
