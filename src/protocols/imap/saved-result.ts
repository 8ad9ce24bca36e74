/**
 * The search result variable of SEARCHRES (RFC 5182, part of IMAP4rev2): "SEARCH RETURN
 * (SAVE)" keeps the messages it found and "$" names them wherever a sequence set is
 * accepted, in UID and message-number commands alike. It belongs to the selected mailbox's
 * view, so SELECT, EXAMINE, CLOSE and UNSELECT start over with an empty one without further
 * bookkeeping. UIDs are kept (never reused), so expunged messages simply drop out.
 */
import type { MailboxView } from './mailbox-view.js';
import type { ImapValue } from './parser/command-parser.js';
import { SAVED_RESULT, type SeqRange } from './parser/sequence-set.js';
import { seqSetArg } from './args.js';

const saved = new WeakMap<MailboxView, number[]>();

/** Replaces the variable (ascending UIDs); [] empties it, as a failed SAVE search must. */
export function saveResult(view: MailboxView, uids: number[]): void {
  saved.set(view, uids);
}

/** The saved messages the client may still see, ascending by UID. */
export function savedUids(view: MailboxView): number[] {
  return (saved.get(view) ?? []).filter((u) => view.has(u));
}

function isSavedMarker(v: ImapValue | undefined): boolean {
  return v?.t === 'atom' && v.v === SAVED_RESULT;
}

/**
 * The messages a command's sequence-set argument names, as ascending UIDs: "$" or numbers
 * (UIDs when `byUid`). `ranges` is the parsed set, null for "$".
 */
export function messageSetArg(view: MailboxView, v: ImapValue | undefined, byUid: boolean): { uids: number[]; ranges: SeqRange[] | null } {
  if (isSavedMarker(v)) return { uids: savedUids(view), ranges: null };
  const ranges = seqSetArg(v);
  return { uids: view.select(ranges, byUid), ranges };
}
