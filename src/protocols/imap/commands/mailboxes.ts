// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE.
import type { SpecialUse } from '../../../store/types.js';
import { checkMailboxName, expectArgs, listArg, mailboxArg, atomArg } from '../args.js';
import { no } from '../errors.js';
import { folderOrFail } from '../folders.js';
import type { ImapSession } from '../session.js';
import { AUTHED, type CommandSpec } from './types.js';

const USES = new Map<string, SpecialUse>(['\\Drafts', '\\Sent', '\\Trash', '\\Junk'].map((u) => [u.toLowerCase(), u as SpecialUse]));

/** RFC 3501 6.3.3: superior names are created as needed, so "a/b/c" works on its own. */
async function createParents(s: ImapSession, name: string): Promise<void> {
  const levels = name.split('/');
  for (let i = 1; i < levels.length; i++) {
    const parent = levels.slice(0, i).join('/');
    if (!(await s.ctx.store.getFolder(s.user!.id, parent))) await s.ctx.store.createFolder(s.user!.id, parent, null, { subscribe: false });
  }
}

export const mailboxCommands: Record<string, CommandSpec> = {
  CREATE: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 1, 2);
      const name = checkMailboxName(mailboxArg(c.args[0], s.utf8, true));
      let use: SpecialUse | null = null;
      if (c.args[1]) {
        // RFC 6154 CREATE-SPECIAL-USE: CREATE name (USE (\Drafts))
        const opts = listArg(c.args[1], 'create option');
        if (opts.length !== 2 || atomArg(opts[0], 'USE').toUpperCase() !== 'USE') throw no('Unsupported CREATE option', 'CANNOT');
        const uses = listArg(opts[1], 'special use');
        if (uses.length !== 1) throw no('Exactly one special use is supported', 'USEATTR');
        use = USES.get(atomArg(uses[0], 'special use').toLowerCase()) ?? null;
        if (!use) throw no('Unsupported special use', 'USEATTR');
      }
      if (await s.ctx.store.getFolder(s.user!.id, name)) throw no('Mailbox exists already', 'ALREADYEXISTS');
      await createParents(s, name);
      // not subscribed: RFC 3501 leaves that to the client (SUBSCRIBE), and LSUB/LIST (SUBSCRIBED) depend on it
      const f = await s.ctx.store.createFolder(s.user!.id, name, use, { subscribe: false });
      return { code: `MAILBOXID (${f.mailboxId})`, text: 'CREATE completed' }; // RFC 8474 4.1
    },
  },
  DELETE: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 1);
      const name = mailboxArg(c.args[0], s.utf8);
      if (name === 'INBOX') throw no('INBOX cannot be deleted', 'CANNOT');
      const f = await folderOrFail(s, name);
      if (s.selected?.view.folder.id === f.id) {
        s.deselect();
        s.send('OK [CLOSED] Mailbox deleted');
      }
      // Children stay; the deleted name then lists as \Noselect, as RFC 3501 6.3.4 describes.
      await s.ctx.store.deleteFolder(s.user!.id, f.id);
      return 'DELETE completed';
    },
  },
  RENAME: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 2);
      const from = mailboxArg(c.args[0], s.utf8);
      const to = checkMailboxName(mailboxArg(c.args[1], s.utf8, true));
      const f = await folderOrFail(s, from);
      if (to === 'INBOX' || (await s.ctx.store.getFolder(s.user!.id, to))) throw no('Target mailbox exists already', 'ALREADYEXISTS');
      if (to.startsWith(from + '/')) throw no('Cannot move a mailbox into itself', 'CANNOT');
      await createParents(s, to);
      await s.ctx.store.renameFolder(s.user!.id, f.id, to);
      return 'RENAME completed';
    },
  },
  SUBSCRIBE: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 1);
      const f = await folderOrFail(s, mailboxArg(c.args[0], s.utf8));
      await s.ctx.store.setSubscribed(s.user!.id, f.name, true);
      return 'SUBSCRIBE completed';
    },
  },
  UNSUBSCRIBE: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 1);
      await s.ctx.store.setSubscribed(s.user!.id, mailboxArg(c.args[0], s.utf8), false);
      return 'UNSUBSCRIBE completed';
    },
  },
};
