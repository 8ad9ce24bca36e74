// APPEND with MULTIAPPEND (RFC 3502) and APPENDUID (RFC 4315).
import { mailboxArg } from '../args.js';
import { bad, no } from '../errors.js';
import { folderOrFail } from '../folders.js';
import { parseFlagList } from '../flags.js';
import type { ImapValue } from '../parser/command-parser.js';
import { formatSequenceSet } from '../parser/sequence-set.js';
import { parseDateTime } from '../wire.js';
import { AUTHED, type CommandSpec } from './types.js';

interface Item {
  flags: string[];
  date?: Date;
  raw: Buffer;
}

/** [flags] [date-time] message, repeated; a string followed by another string is the date. */
function parseItems(args: ImapValue[]): Item[] {
  const items: Item[] = [];
  let i = 0;
  while (i < args.length) {
    const item: Item = { flags: [], raw: Buffer.alloc(0) };
    if (args[i]?.t === 'list') item.flags = parseFlagList([args[i++]!]);
    const a = args[i];
    if (a?.t === 'string' && args[i + 1]?.t === 'string') {
      const d = parseDateTime(a.v.toString('latin1'));
      if (!d) throw bad('Invalid date-time');
      item.date = d;
      i++;
    }
    const msg = args[i++];
    if (msg?.t !== 'string') throw bad('Expected message literal');
    if (msg.v.length === 0) throw no('Empty message');
    item.raw = msg.v;
    items.push(item);
  }
  if (items.length === 0) throw bad('APPEND needs a message');
  return items;
}

export const appendCommands: Record<string, CommandSpec> = {
  APPEND: {
    states: AUTHED,
    run: async (s, c) => {
      if (c.args.length < 2) throw bad('APPEND needs a mailbox and a message');
      const name = mailboxArg(c.args[0], s.utf8);
      const items = parseItems(c.args.slice(1));
      const userId = s.user!.id;
      const folder = await folderOrFail(s, name, 'TRYCREATE');
      const uids: number[] = [];
      let uidValidity = folder.uidValidity;
      try {
        for (const it of items) {
          // OK only after the store has the message durably (SPEC 6)
          const r = await s.ctx.store.append(userId, folder.id, it.raw, { flags: it.flags, internalDate: it.date });
          uids.push(r.uid);
          uidValidity = r.uidValidity;
        }
      } catch (err) {
        // MULTIAPPEND is all or nothing (RFC 3502): take back what went in
        if (uids.length) {
          await s.ctx.store.storeFlags(userId, folder.id, uids, 'add', ['\\Deleted']).catch(() => undefined);
          await s.ctx.store.expunge(userId, folder.id, uids).catch(() => undefined);
        }
        throw err; // over-quota -> NO [OVERQUOTA] (errors.ts)
      }
      return `[APPENDUID ${uidValidity} ${formatSequenceSet(uids)}] APPEND completed`;
    },
  },
};
