/**
 * What one session believes about its selected mailbox: the message sequence numbers it
 * has announced (seq -> UID), each message's flags and MODSEQ, and the folder's
 * HIGHESTMODSEQ at the last synchronisation. sync() turns changes made by anyone (other
 * sessions, SMTP delivery, this session) into the untagged responses that bring the
 * client up to date, at the moments the session chooses.
 */
import type { Store } from '../../store/store.js';
import type { Folder, MessageIndex, MessageSummary } from '../../store/types.js';
import { resolveSequenceSet, formatSequenceSet, type SeqRange } from './parser/sequence-set.js';
import { flagList, SYSTEM_FLAGS } from './flags.js';

export interface ViewOptions {
  condstore: boolean;
  qresync: boolean;
  /** IMAP4rev2 enabled: no RECENT responses (RFC 9051 removed them). */
  imap4rev2?: boolean;
}

type FlagList = ReadonlyArray<string>;

/**
 * The IMAP text of a flag list ("\\Seen $Label", inside FLAGS (...)), made once per list: the
 * store shares one list between messages with the same flags, so a FETCH 1:* FLAGS of a big
 * folder joins a handful of lists, not one per message.
 */
const flagTexts = new WeakMap<FlagList, string>();
function flagText(flags: FlagList): string {
  let t = flagTexts.get(flags);
  if (t === undefined) flagTexts.set(flags, (t = flags.join(' ')));
  return t;
}

function sameFlags(a: FlagList, b: FlagList): boolean {
  return a === b || (a.length === b.length && a.every((f, i) => f === b[i]));
}

/** Above this many messages needing INTERNALDATE or content (and 1/16 of the folder), one listing beats a query each. */
const DETAILS_BULK = 64;

/**
 * The view keeps, per announced message, parallel arrays (position = sequence number - 1):
 * UID, MODSEQ, size and the flags as the store keeps them (text). Nothing per message is an
 * object: SELECT of a big folder is four arrays. What FETCH and SEARCH need beyond that
 * (INTERNALDATE, blob hash) is read on demand (getMessageByUid), or for many messages at
 * once through one lazily built lookup of those unchanging fields.
 */
export class MailboxView {
  uids: number[] = [];
  private flagLists: FlagList[] = [];
  private modseqs: number[] = [];
  private sizes: number[] = [];
  /** The unchanging fields of each message (id, date, size, blob), once a command needed many. */
  private details: Map<number, MessageSummary> | null = null;
  highestModseq = 0;
  uidNext = 1;
  /** Keywords in use, announced in FLAGS; a new one is announced again (RFC 3501 7.2.6). */
  readonly keywords = new Set<string>();
  /** Something changed in the store since the last sync (set from store.onChange). */
  dirty = false;
  /**
   * The folder was deleted by another session (seen by its change notification or by a sync).
   * Nothing the client can do with the view works any more: the session ends (RFC 3501 7.1.5).
   */
  deleted = false;
  /** Expunged elsewhere but not yet announced (EXPUNGE is not allowed during FETCH/STORE/SEARCH). */
  private readonly pendingExpunge = new Set<number>();
  /**
   * UID ranges [from, to) that are \Recent for this session (RFC 3501 2.3.2): claimed from the
   * store at SELECT and as new mail is announced, so no other session sees them so. Ranges, not
   * UIDs: the first SELECT of a big folder filled by delivery claims it whole. Claimed UIDs may
   * not be in the view yet (they arrived after the listing); they are recent once they are.
   */
  private readonly recent: Array<{ from: number; to: number }> = [];

  constructor(
    private readonly store: Store,
    readonly userId: number,
    public folder: Folder,
    readonly readOnly: boolean,
    /**
     * SELECT by an IMAP4rev1 client claims \Recent ('claim'); EXAMINE shows the messages nobody
     * claimed yet as \Recent without claiming them ('peek': RFC 3501 6.3.2, EXAMINE returns what
     * SELECT does but must not take \Recent away); IMAP4rev2 (RFC 9051 dropped it) neither.
     */
    private readonly recentMode: 'claim' | 'peek' | 'none' = 'none',
  ) {}

  async load(): Promise<void> {
    const idx = await this.store.listMessageIndex(this.userId, this.folder.id);
    this.uids = Array.from(idx.uids);
    this.modseqs = Array.from(idx.modseqs);
    this.sizes = Array.from(idx.sizes);
    this.flagLists = idx.flags.slice();
    this.learnFlagLists(idx.flags);
    this.highestModseq = this.folder.highestModseq;
    this.uidNext = this.folder.uidNext;
    await this.claimRecent();
  }

  /** Takes the messages that arrived since anyone's last claim as this session's \Recent ones. */
  private async claimRecent(): Promise<void> {
    if (this.recentMode === 'none') return;
    if (this.recentMode === 'peek') {
      // the unclaimed range as it is now (another session may have claimed some meanwhile)
      const r = await this.peekRecent();
      this.recent.splice(0, this.recent.length, ...(r ? [r] : []));
      return;
    }
    const r = await this.store.claimRecent(this.userId, this.folder.id);
    if (!r) return;
    const last = this.recent[this.recent.length - 1];
    if (last && last.to === r.from) last.to = r.to;
    else this.recent.push(r);
  }

  private async peekRecent(): Promise<{ from: number; to: number } | null> {
    const st = await this.store.folderStatus(this.userId, this.folder.id);
    return st.firstRecentUid < st.uidNext ? { from: st.firstRecentUid, to: st.uidNext } : null;
  }

  private isRecent(uid: number): boolean {
    return this.recent.some((r) => uid >= r.from && uid < r.to);
  }

  /** How many of the messages the client knows are \Recent for this session. */
  get recentCount(): number {
    let n = 0;
    for (const r of this.recent) n += this.indexAtOrAfter(r.to) - this.indexAtOrAfter(r.from);
    for (const uid of this.pendingExpunge) if (this.isRecent(uid)) n--;
    return n;
  }

  /** The FLAGS a client sees: the stored ones, and \Recent where it applies (never stored). */
  displayFlags(uid: number): string {
    const text = flagText(this.flagLists[this.seqOf(uid) - 1]!);
    if (!this.isRecent(uid)) return text;
    return text ? `${text} \\Recent` : '\\Recent';
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
      for (let i = this.indexAtOrAfter(r.from); i < this.uids.length && this.uids[i]! <= r.to; i++) out.push(this.uids[i]!);
    }
    return out;
  }

  /** The first index (0-based) whose UID is >= uid; the length when there is none. */
  private indexAtOrAfter(uid: number): number {
    let lo = 0;
    let hi = this.uids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.uids[mid]! < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether the client may still see the message (false when unknown or expunged meanwhile). */
  has(uid: number): boolean {
    return !this.pendingExpunge.has(uid) && this.seqOf(uid) > 0;
  }

  /** The stored flags of a known message (\\Recent is not among them: isRecent). */
  flagsOf(uid: number): FlagList {
    return this.flagLists[this.seqOf(uid) - 1]!;
  }

  modseqOf(uid: number): number {
    return this.modseqs[this.seqOf(uid) - 1]!;
  }

  sizeOf(uid: number): number {
    return this.sizes[this.seqOf(uid) - 1]!;
  }

  /**
   * What a search reads of the message at a sequence number (1-based), for loops over the whole
   * view with no await: null when it was expunged meanwhile. Flags as flagsWithRecent, the
   * stored list itself when \Recent does not apply (read-only).
   */
  searchFieldsAt(seq: number): { uid: number; flags: ReadonlyArray<string>; modseq: number; size: number } | null {
    const uid = this.uids[seq - 1]!;
    if (this.pendingExpunge.size > 0 && this.pendingExpunge.has(uid)) return null;
    const stored = this.flagLists[seq - 1]!;
    return { uid, flags: this.isRecent(uid) ? [...stored, '\\Recent'] : stored, modseq: this.modseqs[seq - 1]!, size: this.sizes[seq - 1]! };
  }

  /** Stored flags and MODSEQ by sequence number (1-based), for loops over the whole view. */
  flagsAt(seq: number): FlagList {
    return this.flagLists[seq - 1]!;
  }

  modseqAt(seq: number): number {
    return this.modseqs[seq - 1]!;
  }

  /**
   * The whole message summary as far as the client may still see it (null when expunged):
   * flags and MODSEQ as this view knows them, the rest from the store. Pass `bulk` = how many
   * messages the command is about to ask for; past DETAILS_BULK the folder is listed once.
   */
  async summary(uid: number, bulk = 1): Promise<MessageSummary | null> {
    if (this.pendingExpunge.has(uid)) return null;
    const seq = this.seqOf(uid);
    if (!seq) return null;
    // one listing pays off when the command reads a good part of the folder, one query each otherwise
    if (!this.details && bulk > Math.max(DETAILS_BULK, this.uids.length >> 4)) {
      const details = new Map<number, MessageSummary>();
      for (const m of await this.store.listMessages(this.userId, this.folder.id)) details.set(m.uid, m);
      this.details = details;
    }
    let d = this.details?.get(uid) ?? null;
    if (!d) {
      d = await this.store.getMessageByUid(this.userId, this.folder.id, uid);
      if (!d) return null; // expunged meanwhile
      this.details?.set(uid, d);
    }
    // the view may have moved (awaits above): read flags/MODSEQ again
    const now = this.seqOf(uid);
    if (!now || this.pendingExpunge.has(uid)) return null;
    // \Recent among the flags: FETCH FLAGS shows it and SEARCH RECENT/NEW/OLD match on it
    return { ...d, flags: this.flagsWithRecent(uid), modseq: this.modseqs[now - 1]! };
  }

  /** A known message's flags as a client sees them: the stored ones, and \\Recent where it applies. */
  flagsWithRecent(uid: number): string[] {
    const stored = this.flagsOf(uid);
    return this.isRecent(uid) ? [...stored, '\\Recent'] : [...stored];
  }

  /** Adds keywords not seen before; true when FLAGS must be sent again. */
  learnKeywords(flags: FlagList): boolean {
    let added = false;
    for (const f of flags) {
      if (f.startsWith('\\') || this.keywords.has(f)) continue;
      this.keywords.add(f);
      added = true;
    }
    return added;
  }

  /** learnKeywords for many flag lists (each shared list looked at once). */
  private learnFlagLists(lists: ReadonlyArray<FlagList>): boolean {
    let added = false;
    const seen = new Set<FlagList>();
    for (const l of lists) {
      if (l.length === 0 || seen.has(l)) continue;
      seen.add(l);
      if (this.learnKeywords(l)) added = true;
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
    const seq = this.seqOf(uid);
    if (!seq) return;
    this.flagLists[seq - 1] = flags;
    this.modseqs[seq - 1] = modseq;
  }

  fetchFlagsLine(uid: number, o: ViewOptions): string {
    const seq = this.seqOf(uid);
    return `${seq} FETCH (UID ${uid} FLAGS (${this.displayFlags(uid)})${o.condstore ? ` MODSEQ (${this.modseqs[seq - 1]!})` : ''})`;
  }

  /** Removes UIDs from the view; the untagged EXPUNGE (or VANISHED) lines announcing it. */
  remove(uids: number[], o: ViewOptions): string[] {
    const known = [...new Set(uids)].filter((u) => this.seqOf(u) > 0).sort((a, b) => a - b);
    const lines: string[] = [];
    if (o.qresync && known.length) lines.push(`VANISHED ${formatSequenceSet(known)}`);
    for (const uid of known) {
      const seq = this.seqOf(uid);
      if (!o.qresync) lines.push(`${seq} EXPUNGE`);
      this.uids.splice(seq - 1, 1);
      this.flagLists.splice(seq - 1, 1);
      this.modseqs.splice(seq - 1, 1);
      this.sizes.splice(seq - 1, 1);
      this.details?.delete(uid);
      this.pendingExpunge.delete(uid);
    }
    return lines;
  }

  /** Untagged responses for everything that changed since the last sync. */
  async sync(allowExpunge: boolean, o: ViewOptions): Promise<string[]> {
    let changed: MessageIndex | null = null;
    let folder: Folder | null = null;
    if (this.dirty) {
      this.dirty = false;
      folder = await this.store.getFolderById(this.userId, this.folder.id);
      if (!folder) this.deleted = true; // the session says BYE (ImapSession.pushChanges)
      if (folder && folder.highestModseq !== this.highestModseq) {
        const since = this.highestModseq;
        changed = await this.store.listMessageIndex(this.userId, this.folder.id, { changedSince: since });
        for (const e of await this.store.expungedSince(this.userId, this.folder.id, since)) {
          if (this.seqOf(e.uid) > 0) this.pendingExpunge.add(e.uid);
        }
      } else folder = null;
    }
    // Expunges first: the EXISTS that follows then counts what the client really has.
    const lines = allowExpunge && this.pendingExpunge.size ? this.remove([...this.pendingExpunge], o) : [];
    if (!folder || !changed) return lines;
    const last = this.uids[this.uids.length - 1] ?? 0;
    let added = 0;
    if (this.learnFlagLists(changed.flags)) lines.push(...this.flagsLines());
    for (let i = 0; i < changed.uids.length; i++) {
      const uid = changed.uids[i]!;
      const modseq = changed.modseqs[i]!;
      const flags = changed.flags[i]!;
      const seq = this.seqOf(uid);
      if (seq) {
        if (modseq > this.modseqs[seq - 1]! && !this.pendingExpunge.has(uid)) {
          const flagsChanged = !sameFlags(this.flagLists[seq - 1]!, flags);
          this.flagLists[seq - 1] = flags;
          this.modseqs[seq - 1] = modseq;
          if (flagsChanged || o.condstore) lines.push(this.fetchFlagsLine(uid, o));
        }
      } else if (uid > last) {
        // ascending by UID: appending keeps the view sorted
        this.uids.push(uid);
        this.flagLists.push(flags);
        this.modseqs.push(modseq);
        this.sizes.push(changed.sizes[i]!);
        added++;
      }
    }
    if (added) {
      // new mail while selected read-write is this session's \Recent (unless another claimed it first)
      await this.claimRecent();
      lines.push(`${this.uids.length} EXISTS`);
      // RFC 3501 7.3.2: RECENT comes with SELECT and whenever the size of the mailbox changes
      if (!o.imap4rev2) lines.push(`${this.recentCount} RECENT`);
    }
    this.highestModseq = folder.highestModseq;
    this.uidNext = folder.uidNext;
    this.folder = folder;
    return lines;
  }
}
