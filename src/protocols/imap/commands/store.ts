// STORE and UID STORE (RFC 3501 6.4.6, UNCHANGEDSINCE from RFC 7162).
import type { FlagOperation } from '../../../store/types.js';
import { atomArg, listArg, numberArg } from '../args.js';
import { bad, no } from '../errors.js';
import { parseFlagList } from '../flags.js';
import type { ParsedCommand } from '../parser/command-parser.js';
import { formatSequenceSet } from '../parser/sequence-set.js';
import { messageSetArg } from '../saved-result.js';
import type { ImapSession } from '../session.js';
import { SELECTED, type CommandSpec, type ImapOk } from './types.js';

const OPS: Record<string, FlagOperation> = { FLAGS: 'set', '+FLAGS': 'add', '-FLAGS': 'remove' };

async function store(s: ImapSession, c: ParsedCommand, byUid: boolean): Promise<string | ImapOk> {
  if (c.args.length < 3) throw bad('STORE needs a sequence set, an item and flags');
  let i = 1;
  let unchangedSince: number | undefined;
  if (c.args[1]!.t === 'list') {
    const mods = listArg(c.args[i++], 'STORE modifier');
    if (mods.length !== 2 || atomArg(mods[0], 'modifier').toUpperCase() !== 'UNCHANGEDSINCE') throw bad('Unknown STORE modifier');
    unchangedSince = numberArg(mods[1], 'UNCHANGEDSINCE', Number.MAX_SAFE_INTEGER);
    s.enableCondstore();
  }
  const item = atomArg(c.args[i++], 'STORE item').toUpperCase();
  const silent = item.endsWith('.SILENT');
  const op = OPS[silent ? item.slice(0, -7) : item];
  if (!op) throw bad(`Unknown STORE item ${item.slice(0, 30)}`);
  const flags = parseFlagList(c.args.slice(i));
  const view = s.view;
  const uids = messageSetArg(view, c.args[0], byUid).uids.filter((u) => view.has(u));
  if (view.readOnly) throw no('Mailbox is read-only (EXAMINE)', 'CANNOT');
  const r = await s.ctx.store.storeFlags(s.user!.id, view.folder.id, uids, op, flags, unchangedSince);
  if (r.changed.length && op !== 'remove' && view.learnKeywords(flags)) for (const line of view.flagsLines()) s.send(line);
  for (const ch of r.changed) view.noteFlags(ch.uid, ch.flags, ch.modseq);
  const failed = new Set(r.failedModified);
  const o = s.viewOptions;
  // one line per message (STORE 1:* of a big folder: many), made as it is written (no closure
  // or string per message ahead), paced over turns as FETCH's
  const line = (i: number): string | null => {
    if (!silent) {
      const uid = uids[i]!;
      return failed.has(uid) || !view.has(uid) ? null : view.fetchFlagsLine(uid, o);
    }
    // RFC 7162 3.1.3: even .SILENT reports the new MODSEQ of what changed
    const ch = r.changed[i]!;
    return view.has(ch.uid) ? `${view.seqOf(ch.uid)} FETCH (UID ${ch.uid} MODSEQ (${ch.modseq}))` : null;
  };
  const count = !silent ? uids.length : o.condstore ? r.changed.length : 0;
  for (let i = 0; i < count; i++) {
    const text = line(i);
    if (text === null) continue; // failed, or expunged by another session meanwhile (its EXPUNGE comes later)
    const wait = s.pace(s.write(`* ${text}\r\n`), true);
    if (wait) await wait;
    if (s.conn.closed) break;
  }
  if (failed.size) {
    const ids = r.failedModified.map((u) => (byUid ? u : view.seqOf(u)));
    return { code: `MODIFIED ${formatSequenceSet(ids)}`, text: 'Conditional STORE failed for some messages' };
  }
  return `${byUid ? 'UID ' : ''}STORE completed`;
}

export const storeCommands: Record<string, CommandSpec> = {
  STORE: { states: SELECTED, run: (s, c) => store(s, c, false), noExpunge: true },
  'UID STORE': { states: SELECTED, run: (s, c) => store(s, c, true) },
};
