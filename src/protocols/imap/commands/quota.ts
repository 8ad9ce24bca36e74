// GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208): one quota root "" per user, STORAGE in KiB.
import { expectArgs, mailboxArg, stringArg } from '../args.js';
import { no } from '../errors.js';
import { folderOrFail } from '../folders.js';
import type { ImapSession } from '../session.js';
import { mailboxName } from '../wire.js';
import { AUTHED, type CommandSpec } from './types.js';

async function quotaLine(s: ImapSession): Promise<string> {
  const q = await s.ctx.store.quota(s.user!.id);
  const used = Math.ceil(q.usedBytes / 1024);
  return q.limitBytes > 0 ? `QUOTA "" (STORAGE ${used} ${Math.floor(q.limitBytes / 1024)})` : 'QUOTA "" ()';
}

export const quotaCommands: Record<string, CommandSpec> = {
  GETQUOTAROOT: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 1);
      const f = await folderOrFail(s, mailboxArg(c.args[0], s.utf8));
      s.send(`QUOTAROOT ${mailboxName(f.name, s.utf8)} ""`);
      s.send(await quotaLine(s));
      return 'GETQUOTAROOT completed';
    },
  },
  GETQUOTA: {
    states: AUTHED,
    run: async (s, c) => {
      expectArgs(c.args, 1);
      if (stringArg(c.args[0], 'quota root') !== '') throw no('No such quota root', 'NONEXISTENT');
      s.send(await quotaLine(s));
      return 'GETQUOTA completed';
    },
  },
  SETQUOTA: {
    states: AUTHED,
    run: async () => {
      throw no('Quotas are set by the administrator (Default Mailbox Quota Bytes)', 'NOPERM');
    },
  },
};
