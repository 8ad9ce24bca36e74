/**
 * What one session believes about its selected mailbox: the message sequence numbers it
 * has announced (seq -> UID), each message's flags and MODSEQ, and the folder's
 * HIGHESTMODSEQ at the last synchronisation. sync() turns changes made by anyone (other
 * sessions, SMTP delivery, this session) into the untagged responses that bring the
 * client up to date, at the moments the session chooses.
 */
import type { Store } from '../../store/store.js';
import type { Folder, MessageSummary } from '../../store/types.js';
import { resolveSequenceSet, formatSequenceSet, type SeqRange } from './parser/sequence-set.js';
import { flagList, SYSTEM_FLAGS } from './flags.js';

export interface ViewOptions {
  condstore: boolean;
  qresync: boolean;
}

export class MailboxView {
  uids: number[] = [];
  readonly msgs = new Map<number, MessageSummary>();
  highestModseq = 0;
  uidNext = 1;
  /** Keywords in use, announced in FLAGS; a new one is announced again (RFC 3501 7.2.6). */
  readonly keywords = new Set<string>();
  /** Something changed in the store since the last sync (set from store.onChange). */
  dirty = false;
  /** Expunged elsewhere but not yet announced (EXPUNGE is not allowed during FETCH/STORE/SEARCH). */
  private readonly pendingExpunge = new Set<number>();

  constructor(
    private readonly store: Store,
    readonly userId: number,
    public folder: Folder,
    readonly readOnly: boolean,
  ) {}

  async load(): Promise<void> {
    const list = await this.store.listMessages(this.userId, this.folder.id);
    for (const m of list) {
      this.uids.push(m.uid);
      this.msgs.set(m.uid, m);
      this.learnKeywords(m.flags);
    }
    this.highestModseq = this.folder.highestModseq;
    this.uidNext = this.folder.uidNext;
  }

  get exists(): number {
    return this.uids.length;
  }

  /** 1-based sequence number of a UID, 0 when unknown. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** UIDs (ascending) named by a message sequence set, or by a UID set when `byUid`. */
  select(ranges: SeqRange[], byUid: boolean): number[] {
    if (this.uids.length === 0) return [];
    if (!byUid) {
      const out: number[] = [];
      for (const r of resolveSequenceSet(ranges, this.uids.length)) for (let s = r.from; s <= r.to; s++) out.push(this.uids[s - 1]!);
      return out;
    }
    const out: number[] = [];
    for (const r of resolveSequenceSet(ranges, this.uids[this.uids.length - 1]!)) {
      // first index with uid >= r.from
      let lo = 0;
      let hi = this.uids.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.uids[mid]! < r.from) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < this.uids.length && this.uids[i]! <= r.to; i++) out.push(this.uids[i]!);
    }
    return out;
  }

  /** The message as far as the client may still see it (null when expunged meanwhile). */
  message(uid: number): MessageSummary | null {
    return this.pendingExpunge.has(uid) ? null : (this.msgs.get(uid) ?? null);
  }

  /** Adds keywords not seen before; true when FLAGS must be sent again. */
  learnKeywords(flags: string[]): boolean {
    let added = false;
    for (const f of flags) {
      if (f.startsWith('\\') || this.keywords.has(f)) continue;
      this.keywords.add(f);
      added = true;
    }
    return added;
  }

  /** FLAGS and PERMANENTFLAGS as SELECT sends them. */
  flagsLines(): string[] {
    const flags = [...SYSTEM_FLAGS, ...this.keywords];
    return [`FLAGS ${flagList(flags)}`, `OK [PERMANENTFLAGS ${this.readOnly ? '()' : flagList([...flags, '\\*'])}] Flags permitted`];
  }

  /** Records a flag change this session made itself (its own FETCH answers announce it). */
  noteFlags(uid: number, flags: string[], modseq: number): void {
    const m = this.msgs.get(uid);
    if (m) this.msgs.set(uid, { ...m, flags, modseq });
  }

  fetchFlagsLine(uid: number, o: ViewOptions): string {
    const m = this.msgs.get(uid)!;
    return `${this.seqOf(uid)} FETCH (UID ${uid} FLAGS ${flagList(m.flags)}${o.condstore ? ` MODSEQ (${m.modseq})` : ''})`;
  }

  /** Removes UIDs from the view; the untagged EXPUNGE (or VANISHED) lines announcing it. */
  remove(uids: number[], o: ViewOptions): string[] {
    const known = [...new Set(uids)].filter((u) => this.msgs.has(u)).sort((a, b) => a - b);
    const lines: string[] = [];
    if (o.qresync && known.length) lines.push(`VANISHED ${formatSequenceSet(known)}`);
    for (const uid of known) {
      const seq = this.seqOf(uid);
      if (!o.qresync) lines.push(`${seq} EXPUNGE`);
      this.uids.splice(seq - 1, 1);
      this.msgs.delete(uid);
      this.pendingExpunge.delete(uid);
    }
    return lines;
  }

  /** Untagged responses for everything that changed since the last sync. */
  async sync(allowExpunge: boolean, o: ViewOptions): Promise<string[]> {
    let changed: MessageSummary[] = [];
    let folder: Folder | null = null;
    if (this.dirty) {
      this.dirty = false;
      folder = await this.store.getFolderById(this.userId, this.folder.id);
      // deleted elsewhere: nothing more to announce; the next command fails with NONEXISTENT
      if (folder && folder.highestModseq !== this.highestModseq) {
        const since = this.highestModseq;
        changed = await this.store.listMessages(this.userId, this.folder.id, { changedSince: since });
        for (const e of await this.store.expungedSince(this.userId, this.folder.id, since)) {
          if (this.msgs.has(e.uid)) this.pendingExpunge.add(e.uid);
        }
      } else folder = null;
    }
    // Expunges first: the EXISTS that follows then counts what the client really has.
    const lines = allowExpunge && this.pendingExpunge.size ? this.remove([...this.pendingExpunge], o) : [];
    if (!folder) return lines;
    const last = this.uids[this.uids.length - 1] ?? 0;
    const added: MessageSummary[] = [];
    if (changed.some((m) => this.learnKeywords(m.flags))) lines.push(...this.flagsLines());
    for (const m of changed) {
      const mine = this.msgs.get(m.uid);
      if (mine) {
        if (m.modseq > mine.modseq && !this.pendingExpunge.has(m.uid)) {
          const flagsChanged = mine.flags.join(' ') !== m.flags.join(' ');
          this.msgs.set(m.uid, m);
          if (flagsChanged || o.condstore) lines.push(this.fetchFlagsLine(m.uid, o));
        }
      } else if (m.uid > last) added.push(m);
    }
    for (const m of added) {
      this.uids.push(m.uid);
      this.msgs.set(m.uid, m);
    }
    if (added.length) lines.push(`${this.uids.length} EXISTS`);
    this.highestModseq = folder.highestModseq;
    this.uidNext = folder.uidNext;
    this.folder = folder;
    return lines;
  }
}
