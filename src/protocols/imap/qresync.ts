/**
 * The QRESYNC parameter of SELECT and EXAMINE (RFC 7162 section 3.2.5) and the
 * resynchronisation it asks for: what the client missed since its MODSEQ, as
 * VANISHED (EARLIER) and FETCH responses.
 *
 *   "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
 *   seq-match-data = "(" known-sequence-set SP known-uid-set ")"
 */
import { atomArg, listArg, numberArg } from './args.js';
import { bad } from './errors.js';
import type { MailboxView } from './mailbox-view.js';
import type { ImapValue } from './parser/command-parser.js';
import { formatSequenceSet, parseSequenceSet, seqSetContains, type SeqRange } from './parser/sequence-set.js';
import type { ImapSession } from './session.js';

export interface QresyncParam {
  uidValidity: number;
  modseq: number;
  /** null: the client knows everything up to UIDNEXT - 1. */
  knownUids: SeqRange[] | null;
  /** Message numbers and the UIDs the client believes they have, pairwise in ascending order. */
  seqMatch: { seqs: SeqRange[]; uids: SeqRange[] } | null;
}

/** A sequence set in which "*" is not allowed (known-uids and both seq-match-data sets). */
function explicitSet(v: ImapValue | undefined, what: string): SeqRange[] {
  const ranges = parseSequenceSet(atomArg(v, what));
  if (!ranges || ranges.some((r) => r.from === Infinity || r.to === Infinity)) throw bad(`Invalid QRESYNC ${what}`);
  return ranges;
}

/** seq-match-data sets are "in ascending order": every range rises and starts past the previous one. */
function ascendingCount(ranges: SeqRange[]): number | null {
  let last = 0;
  let count = 0;
  for (const r of ranges) {
    if (r.from > r.to || r.from <= last) return null;
    count += r.to - r.from + 1;
    last = r.to;
  }
  return count;
}

/** Checks all of it before the mailbox is opened: anything malformed is BAD (RFC 7162 3.2.5). */
export function parseQresyncParam(v: ImapValue | undefined): QresyncParam {
  const items = listArg(v, 'QRESYNC parameter');
  if (items.length < 2 || items.length > 4) throw bad('Invalid QRESYNC parameter');
  const uidValidity = numberArg(items[0], 'UIDVALIDITY');
  // mod-sequence-value is a positive 63-bit number; beyond 2^53 we could not compare it exactly
  const modseq = numberArg(items[1], 'MODSEQ', Number.MAX_SAFE_INTEGER);
  if (uidValidity === 0 || modseq === 0) throw bad('Invalid QRESYNC parameter');
  let i = 2;
  const knownUids = items[i]?.t === 'atom' ? explicitSet(items[i++], 'known UIDs') : null;
  let seqMatch: QresyncParam['seqMatch'] = null;
  if (i < items.length) {
    const pair = listArg(items[i++], 'QRESYNC sequence match data');
    if (pair.length !== 2) throw bad('Invalid QRESYNC sequence match data');
    const seqs = explicitSet(pair[0], 'known sequence set');
    const uids = explicitSet(pair[1], 'known UID set');
    const n = ascendingCount(seqs);
    if (n === null || n !== ascendingCount(uids)) throw bad('Invalid QRESYNC sequence match data');
    seqMatch = { seqs, uids };
  }
  if (i !== items.length) throw bad('Invalid QRESYNC parameter');
  return { uidValidity, modseq, knownUids, seqMatch };
}

function* members(ranges: SeqRange[]): Generator<number> {
  for (const r of ranges) for (let n = r.from; n <= r.to; n++) yield n;
}

/**
 * RFC 7162 3.2.5.2: each (message number, UID) pair that still matches the mailbox tells that
 * the client knows of every expunge up to that UID; the first pair that does not match ends
 * the walk. Returns the lowest UID VANISHED (EARLIER) still has to report. Message numbers
 * ascend, so the walk stops within the mailbox size whatever the client sent.
 */
export function vanishedFloor(view: MailboxView, seqMatch: NonNullable<QresyncParam['seqMatch']>): number {
  let floor = 1;
  const uids = members(seqMatch.uids);
  for (const seq of members(seqMatch.seqs)) {
    const uid = uids.next().value as number;
    if (seq > view.exists || view.uidAt(seq) !== uid) break;
    floor = uid + 1;
  }
  return floor;
}

/**
 * The same as "UID FETCH known-uids (FLAGS) (CHANGEDSINCE modseq VANISHED)" (RFC 7162
 * 3.2.5.1), with expunges at or below the sequence-match floor left out.
 */
export async function resync(s: ImapSession, view: MailboxView, q: QresyncParam): Promise<void> {
  const known = (uid: number) => !q.knownUids || seqSetContains(q.knownUids, uid);
  const floor = q.seqMatch ? vanishedFloor(view, q.seqMatch) : 1;
  const expunged = await s.ctx.store.expungedSince(s.user!.id, view.folder.id, q.modseq);
  const gone = expunged.map((e) => e.uid).filter((uid) => uid >= floor && known(uid));
  if (gone.length) s.send(`VANISHED (EARLIER) ${formatSequenceSet(gone)}`);
  for (let seq = 1; seq <= view.exists; seq++) {
    const turn = s.step(seq);
    if (turn) await turn;
    const uid = view.uidAt(seq);
    if (view.modseqAt(seq) > q.modseq && known(uid)) s.send(view.fetchFlagsLine(uid, { condstore: true, qresync: true }));
  }
}
