// APPEND with MULTIAPPEND (RFC 3502), APPENDUID (RFC 4315) and UTF8 data (RFC 6855 section 4).
import { mailboxArg } from '../args.js';
import { bad, no } from '../errors.js';
import { folderOrFail } from '../folders.js';
import { parseFlagList } from '../flags.js';
import type { ImapValue } from '../parser/command-parser.js';
import { formatSequenceSet } from '../parser/sequence-set.js';
import { parseDateTime } from '../wire.js';
import { AUTHED, type CommandSpec } from './types.js';
import type { AppendResult } from '../../../store/types.js';

interface Item {
  flags: string[];
  date?: Date;
  raw: Buffer;
}

/** append-data =/ "UTF8" SP "(" literal8 ")": a message with UTF-8 headers (RFC 6855). */
function isUtf8Data(v: ImapValue | undefined): boolean {
  return v?.t === 'atom' && v.v.toUpperCase() === 'UTF8';
}

/**
 * [flags] [date-time] message, repeated; a string followed by a message is the date. The
 * message is a literal, or "UTF8 (~{n}...)", which only a client that enabled UTF8=ACCEPT
 * may send, and only with a literal8 (RFC 6855 section 4).
 */
function parseItems(args: ImapValue[], utf8Enabled: boolean): Item[] {
  const items: Item[] = [];
  let i = 0;
  while (i < args.length) {
    const item: Item = { flags: [], raw: Buffer.alloc(0) };
    if (args[i]?.t === 'list') item.flags = parseFlagList([args[i++]!]);
    const a = args[i];
    // date-time is a quoted string, a message a literal (RFC 3501 9): with MULTIAPPEND a literal
    // followed by another literal is two messages, never a date and a message
    if (a?.t === 'string' && !a.literal && (args[i + 1]?.t === 'string' || isUtf8Data(args[i + 1]))) {
      const d = parseDateTime(a.v.toString('latin1'));
      if (!d) throw bad('Invalid date-time');
      item.date = d;
      i++;
    }
    let msg: ImapValue | undefined = args[i++];
    if (isUtf8Data(msg)) {
      if (!utf8Enabled) throw bad('UTF8 APPEND data needs ENABLE UTF8=ACCEPT');
      const inner = args[i++];
      msg = inner?.t === 'list' && inner.v.length === 1 ? inner.v[0] : undefined;
      if (msg?.t !== 'string' || !msg.literal8) throw bad('Expected UTF8 (literal8)');
    }
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
    // the mailbox is known before the first message: a missing one is NO [TRYCREATE] at once
    beforeLiteral: async (s, c) => {
      if (c.args.length === 0) return; // the mailbox name is this literal
      await folderOrFail(s, mailboxArg(c.args[0], s.utf8), 'TRYCREATE');
    },
    run: async (s, c) => {
      if (c.args.length < 2) throw bad('APPEND needs a mailbox and a message');
      const name = mailboxArg(c.args[0], s.utf8);
      const items = parseItems(c.args.slice(1), s.utf8);
      const userId = s.user!.id;
      const folder = await folderOrFail(s, name, 'TRYCREATE');
      // MULTIAPPEND is all or nothing (RFC 3502): one store write; OK only once it is durable (SPEC 6).
      // over-quota -> NO [OVERQUOTA] (errors.ts)
      const messages = items.map((it) => ({ raw: it.raw, flags: it.flags, internalDate: it.date }));
      // into the mailbox this session has selected read-write: it is the first to be told of the
      // new messages (the sync after this command), so they are its \Recent ones, claimed in the
      // append's own transaction rather than by a second write at that sync (RFC 3501 2.3.2)
      const view = s.selected?.view;
      let results: AppendResult[];
      if (view?.claimsRecentOnAppend(folder.id)) {
        const out = await s.ctx.store.appendAndClaimRecent(userId, folder.id, messages);
        view.claimedByAppend(out.recent);
        results = out.appended;
      } else {
        results = await s.ctx.store.appendMany(userId, folder.id, messages);
      }
      const uidValidity = results[0]?.uidValidity ?? folder.uidValidity;
      return { code: `APPENDUID ${uidValidity} ${formatSequenceSet(results.map((r) => r.uid))}`, text: 'APPEND completed' };
    },
  },
};
