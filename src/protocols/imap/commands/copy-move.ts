// COPY, MOVE and their UID forms (COPYUID from RFC 4315, MOVE from RFC 6851).
import { expectArgs, mailboxArg } from '../args.js';
import { no } from '../errors.js';
import { folderOrFail } from '../folders.js';
import type { ParsedCommand } from '../parser/command-parser.js';
import { formatSequenceSet } from '../parser/sequence-set.js';
import { messageSetArg } from '../saved-result.js';
import type { ImapSession } from '../session.js';
import { SELECTED, type CommandSpec, type ImapOk } from './types.js';

async function copyOrMove(s: ImapSession, c: ParsedCommand, byUid: boolean, move: boolean): Promise<string | ImapOk> {
  expectArgs(c.args, 2);
  const name = mailboxArg(c.args[1], s.utf8);
  const view = s.view;
  const uids = messageSetArg(view, c.args[0], byUid).uids.filter((u) => view.has(u));
  if (move && view.readOnly) throw no('Mailbox is read-only (EXAMINE)', 'CANNOT');
  const target = await folderOrFail(s, name, 'TRYCREATE');
  const verb = `${byUid ? 'UID ' : ''}${move ? 'MOVE' : 'COPY'}`;
  if (uids.length === 0) return `${verb} completed`;
  // the target is opened besides the selected folder: one more objtFolder object meanwhile
  const r = await s.storeSession!.withObject('objtFolder', () =>
    move ? s.ctx.store.moveMessages(s.user!.id, view.folder.id, uids, target.id) : s.ctx.store.copyMessages(s.user!.id, view.folder.id, uids, target.id),
  );
  // source and target UIDs both ascend in the same order, so the two sets correspond
  const code = r.pairs.length ? `COPYUID ${r.uidValidity} ${formatSequenceSet(r.pairs.map((p) => p[0]))} ${formatSequenceSet(r.pairs.map((p) => p[1]))}` : '';
  if (!move) return { code: code || undefined, text: `${verb} completed` };
  if (code) s.send(`OK [${code}] Moved`);
  for (const line of view.remove(r.pairs.map((p) => p[0]), s.viewOptions)) s.send(line);
  return `${verb} completed`;
}

export const copyMoveCommands: Record<string, CommandSpec> = {
  COPY: { states: SELECTED, run: (s, c) => copyOrMove(s, c, false, false) },
  'UID COPY': { states: SELECTED, run: (s, c) => copyOrMove(s, c, true, false) },
  MOVE: { states: SELECTED, run: (s, c) => copyOrMove(s, c, false, true) },
  'UID MOVE': { states: SELECTED, run: (s, c) => copyOrMove(s, c, true, true) },
};
