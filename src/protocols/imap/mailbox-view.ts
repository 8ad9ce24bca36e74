/**
 * What one session believes about its selected mailbox: the message sequence numbers it
 * has announced (seq -> UID), each message's flags and MODSEQ, and the folder's
 * HIGHESTMODSEQ at the last synchronisation. sync() turns changes made by anyone (other
 * sessions, SMTP delivery, this session) into the untagged responses that bring the
 * client up to date, at the moments the session chooses.
 */
import type { Store } from '../../store/store.js';
import type { Folder, MessageIndex, MessageSummary, RecentClaim } from '../../store/types.js';
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
 * The view keeps, per announced message, parallel columns (position = sequence number - 1):
 * UID, MODSEQ and size in typed arrays (the store's MessageIndex arrays themselves, grown by
 * doubling as mail arrives), and the flags as the store shares them (one array per combination).
 * Nothing per message is an object or a heap number: SELECT of a big folder copies three
 * buffers, and the garbage collector has three objects to look at instead of 150,000 slots.
 * What FETCH and SEARCH need beyond that (INTERNALDATE, blob hash) is read on demand
 * (getMessageByUid), or for many messages at once through one lazily built lookup of those
 * unchanging fields.
 */
export class MailboxView {
  private uidCol = new Uint32Array(0);
  private modseqCol = new Float64Array(0);
  private sizeCol = new Float64Array(0);
  private flagLists: FlagList[] = [];
  /** Messages in the view (the columns may be longer: room to grow). */
  private count = 0;
  /**
   * Where seqOf last found a UID (0-based): commands walk the view in UID order and ask for the
   * same message several times (has, seqOf, flags, MODSEQ), so the next answer is usually here
   * or one further, with no binary search. Any value is safe: it is checked before use.
   */
  private hint = 0;
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
  private readonly recent: RecentClaim[] = [];
  /**
   * The end of this session's latest claim ('claim' mode): the store's mark only moves forward,
   * so every UID below it was claimed by someone (this session or another) when that claim was
   * answered, and asking the store again for new mail below it would find nothing to claim.
   */
  private claimedTo = 0;

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
    // the listing and the claim asked in one turn: one round trip to the store thread, not two in a
    // row (a claimed UID may be above the listing, as for any claim: recent once it is in the view)
    const [idx] = await Promise.all([this.store.listMessageIndex(this.userId, this.folder.id), this.claimRecent()]);
    // typed-array copies are one memcpy each (50,000 messages: ~1 MB in well under a ms);
    // Array.from into number[] was ~50,000 element writes per column in SELECT's turn
    this.uidCol = idx.uids.slice();
    this.modseqCol = idx.modseqs.slice();
    this.sizeCol = idx.sizes.slice();
    this.flagLists = idx.flags.slice();
    this.count = this.uidCol.length;
    this.hint = 0;
    this.learnFlagLists(idx.flags);
    this.highestModseq = this.folder.highestModseq;
    this.uidNext = this.folder.uidNext;
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
    this.addRecent(await this.store.claimRecent(this.userId, this.folder.id));
  }

  private addRecent(r: RecentClaim | null): void {
    if (!r) return;
    this.claimedTo = Math.max(this.claimedTo, r.to);
    const last = this.recent[this.recent.length - 1];
    if (last && last.to === r.from) last.to = r.to;
    else this.recent.push({ ...r });
  }

  /**
   * Whether this session's APPEND into `folderId` claims \Recent with the append itself
   * (Store.appendAndClaimRecent): it has the folder selected read-write as an IMAP4rev1 session,
   * so it is the first to be told of the new messages and would claim them at its next sync.
   */
  claimsRecentOnAppend(folderId: number): boolean {
    return this.recentMode === 'claim' && !this.deleted && folderId === this.folder.id;
  }

  /** What this session's APPEND claimed (Store.appendAndClaimRecent): recent once the sync announces the messages. */
  claimedByAppend(r: RecentClaim | null): void {
    if (this.recentMode === 'claim') this.addRecent(r);
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
    return this.count;
  }

  /** The UID at a sequence number (1-based, at most `exists`). */
  uidAt(seq: number): number {
    return this.uidCol[seq - 1]!;
  }

  /** The highest UID in the view, 0 when it is empty. */
  get lastUid(): number {
    return this.count ? this.uidCol[this.count - 1]! : 0;
  }

  /** The view's UIDs in order, as a copy (the view may change while the caller awaits). */
  uidList(): Uint32Array {
    return this.uidCol.slice(0, this.count);
  }

  /** 1-based sequence number of a UID, 0 when unknown. */
  seqOf(uid: number): number {
    const col = this.uidCol;
    const n = this.count;
    let i = this.hint;
    if (i < n && col[i] === uid) return i + 1;
    if (++i < n && col[i] === uid) {
      this.hint = i;
      return i + 1;
    }
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = col[mid]!;
      if (v === uid) {
        this.hint = mid;
        return mid + 1;
      }
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** UIDs (ascending) named by a message sequence set, or by a UID set when `byUid`. */
  select(ranges: SeqRange[], byUid: boolean): number[] {
    const n = this.count;
    if (n === 0) return [];
    // each range is a slice of the UID column, found with two binary searches (not a comparison
    // per message); copied by a loop (Array.from of a typed array was twice as slow)
    const slices: Array<[number, number]> = [];
    if (!byUid) for (const r of resolveSequenceSet(ranges, n)) slices.push([r.from - 1, r.to]);
    else {
      for (const r of resolveSequenceSet(ranges, this.uidCol[n - 1]!)) {
        const from = this.indexAtOrAfter(r.from);
        const to = this.indexAtOrAfter(r.to + 1);
        if (from < to) slices.push([from, to]);
      }
    }
    const out: number[] = [];
    for (const [from, to] of slices) for (let i = from; i < to; i++) out.push(this.uidCol[i]!);
    return out;
  }

  /** The first index (0-based) whose UID is >= uid; the length when there is none. */
  private indexAtOrAfter(uid: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.uidCol[mid]! < uid) lo = mid + 1;
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
    return this.modseqCol[this.seqOf(uid) - 1]!;
  }

  sizeOf(uid: number): number {
    return this.sizeCol[this.seqOf(uid) - 1]!;
  }

  /**
   * What a search reads of the message at a sequence number (1-based), for loops over the whole
   * view with no await: null when it was expunged meanwhile. Flags as flagsWithRecent, the
   * stored list itself when \Recent does not apply (read-only).
   */
  searchFieldsAt(seq: number): { uid: number; flags: ReadonlyArray<string>; modseq: number; size: number } | null {
    const uid = this.uidCol[seq - 1]!;
    if (this.pendingExpunge.size > 0 && this.pendingExpunge.has(uid)) return null;
    const stored = this.flagLists[seq - 1]!;
    return { uid, flags: this.isRecent(uid) ? [...stored, '\\Recent'] : stored, modseq: this.modseqCol[seq - 1]!, size: this.sizeCol[seq - 1]! };
  }

  /** Stored flags and MODSEQ by sequence number (1-based), for loops over the whole view. */
  flagsAt(seq: number): FlagList {
    return this.flagLists[seq - 1]!;
  }

  modseqAt(seq: number): number {
    return this.modseqCol[seq - 1]!;
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
    if (!this.details && bulk > Math.max(DETAILS_BULK, this.count >> 4)) {
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
    return { ...d, flags: this.flagsWithRecent(uid), modseq: this.modseqCol[now - 1]! };
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
    this.modseqCol[seq - 1] = modseq;
  }

  fetchFlagsLine(uid: number, o: ViewOptions): string {
    const seq = this.seqOf(uid);
    return `${seq} FETCH (UID ${uid} FLAGS (${this.displayFlags(uid)})${o.condstore ? ` MODSEQ (${this.modseqCol[seq - 1]!})` : ''})`;
  }

  /**
   * Removes UIDs from the view; the untagged EXPUNGE (or VANISHED) lines announcing it. One pass
   * over the columns from the first removed message (a splice per UID moved the rest of a big
   * folder once for each).
   */
  remove(uids: number[], o: ViewOptions): string[] {
    const known = [...new Set(uids)].filter((u) => this.seqOf(u) > 0).sort((a, b) => a - b);
    const lines: string[] = [];
    if (known.length === 0) return lines;
    if (o.qresync) lines.push(`VANISHED ${formatSequenceSet(known)}`);
    const n = this.count;
    const gone = known.length === 1 ? null : new Set(known);
    let w = this.seqOf(known[0]!) - 1;
    let removed = 0;
    for (let r = w; r < n; r++) {
      const uid = this.uidCol[r]!;
      if (gone ? gone.has(uid) : uid === known[0]) {
        // each EXPUNGE's number counts the ones announced before it as gone (RFC 3501 7.4.1)
        if (!o.qresync) lines.push(`${r - removed + 1} EXPUNGE`);
        removed++;
        this.details?.delete(uid);
        this.pendingExpunge.delete(uid);
        continue;
      }
      if (w !== r) {
        this.uidCol[w] = uid;
        this.modseqCol[w] = this.modseqCol[r]!;
        this.sizeCol[w] = this.sizeCol[r]!;
        this.flagLists[w] = this.flagLists[r]!;
      }
      w++;
    }
    this.count = w;
    this.flagLists.length = w;
    return lines;
  }

  /** Appends a message (its UID above every other): the columns double when full. */
  private append(uid: number, modseq: number, size: number, flags: FlagList): void {
    if (this.count === this.uidCol.length) {
      const room = Math.max(16, this.count * 2);
      const grow = <T extends Uint32Array | Float64Array>(col: T, next: T): T => {
        next.set(col.subarray(0, this.count));
        return next;
      };
      this.uidCol = grow(this.uidCol, new Uint32Array(room));
      this.modseqCol = grow(this.modseqCol, new Float64Array(room));
      this.sizeCol = grow(this.sizeCol, new Float64Array(room));
    }
    this.uidCol[this.count] = uid;
    this.modseqCol[this.count] = modseq;
    this.sizeCol[this.count] = size;
    this.flagLists[this.count] = flags;
    this.count++;
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
        // both asked in one turn: one round trip to the store thread, not two in a row (this runs
        // after every command that changed the folder; each hop is a wake-up of both threads)
        const [index, expunged] = await Promise.all([
          this.store.listMessageIndex(this.userId, this.folder.id, { changedSince: since }),
          this.store.expungedSince(this.userId, this.folder.id, since),
        ]);
        changed = index;
        for (const e of expunged) {
          if (this.seqOf(e.uid) > 0) this.pendingExpunge.add(e.uid);
        }
      } else folder = null;
    }
    // Expunges first: the EXISTS that follows then counts what the client really has.
    const lines = allowExpunge && this.pendingExpunge.size ? this.remove([...this.pendingExpunge], o) : [];
    if (!folder || !changed) return lines;
    const last = this.lastUid;
    let added = 0;
    if (this.learnFlagLists(changed.flags)) lines.push(...this.flagsLines());
    for (let i = 0; i < changed.uids.length; i++) {
      const uid = changed.uids[i]!;
      const modseq = changed.modseqs[i]!;
      const flags = changed.flags[i]!;
      const seq = this.seqOf(uid);
      if (seq) {
        if (modseq > this.modseqCol[seq - 1]! && !this.pendingExpunge.has(uid)) {
          const flagsChanged = !sameFlags(this.flagLists[seq - 1]!, flags);
          this.flagLists[seq - 1] = flags;
          this.modseqCol[seq - 1] = modseq;
          if (flagsChanged || o.condstore) lines.push(this.fetchFlagsLine(uid, o));
        }
      } else if (uid > last) {
        // ascending by UID: appending keeps the view sorted
        this.append(uid, modseq, changed.sizes[i]!, flags);
        added++;
      }
    }
    if (added) {
      // new mail while selected read-write is this session's \Recent (unless another claimed it
      // first); nothing to ask when every new UID is below this session's latest claim (its own
      // APPEND claimed them: appendAndClaimRecent), which is a store round trip less per APPEND
      if (this.recentMode !== 'claim' || this.lastUid >= this.claimedTo) await this.claimRecent();
      lines.push(`${this.count} EXISTS`);
      // RFC 3501 7.3.2: RECENT comes with SELECT and whenever the size of the mailbox changes
      if (!o.imap4rev2) lines.push(`${this.recentCount} RECENT`);
    }
    this.highestModseq = folder.highestModseq;
    this.uidNext = folder.uidNext;
    this.folder = folder;
    return lines;
  }
}
