/**
 * The invariants every backend keeps, checked after every write: `checked(backend)` wraps a
 * store in a proxy that, after each call that is not a read (reads are listed; anything else,
 * including operations added later, counts as a write), re-checks all of them and fails the
 * call with an InvariantViolation if one broke — after a failed write too (a rolled-back write
 * must leave everything as it was). While several writes are in flight at once (the
 * concurrency contracts), the check runs when the last of them has finished.
 *
 * Two kinds of check:
 *  - on a snapshot: counters equal a recount (through the Store's own answers, and through the
 *    backend's inspector from outside), the kept list order equals the order it replaces, UIDs
 *    listed in UID order and below UIDNEXT, MODSEQs at most HIGHESTMODSEQ, the views agree;
 *  - between the snapshot before and after a write: UIDNEXT and HIGHESTMODSEQ never go back;
 *    a changed folder gets a higher HIGHESTMODSEQ, every new or changed message a MODSEQ above
 *    the old HIGHESTMODSEQ (MODSEQ strictly increasing per folder); a new message never reuses
 *    a UID; a removed message is in expungedSince (QRESYNC), has a tombstone, and changesSince
 *    reports it destroyed; every change moves the account state.
 */
import type { Store } from '../../../src/store/store.js';
import type { Inspector, OpenBackend } from './backends.js';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`invariant "${invariant}" broken: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** Store methods that only read: everything else is checked after. */
const READS = new Set<string>([
  'backend', 'changes', 'file', 'close', 'organisation', 'integrityCheck', 'listDatabases', 'findDatabase', 'listUsers', 'findUser', 'getUser',
  'verifyPassword', 'listSettingOverrides', 'settingsVersion', 'listFolders', 'getFolder', 'getFolderById', 'listSubscriptions',
  'folderStatus', 'listFolderCounts', 'listMessages', 'listMessageIndex', 'listMessagePage', 'getMessage', 'getMessageByUid',
  'getMessages', 'readBlob', 'readStructure', 'expungedSince', 'quota', 'changeState', 'changesSince', 'listEvents', 'listQueue',
  'dueQueueEntries', 'isLocalDomain',
]);

interface MessageSnap { uid: number; modseq: number; flags: string; objectId: string }
interface FolderSnap { id: number; mailboxId: string; name: string; uidValidity: number; uidNext: number; highestModseq: number; messages: Map<number, MessageSnap> }
interface UserSnap { state: string; folders: Map<number, FolderSnap>; objects: Map<string, number> }
type Snapshot = Map<number, UserSnap>;

const fail = (invariant: string, detail: string): never => {
  throw new InvariantViolation(invariant, detail);
};
const flagText = (flags: readonly string[]) => [...flags].sort().join(' ');
/** MessageIndex.flags entries: stored text ("\\Seen \\Flagged") or an array, as a backend gives them. */
const indexFlags = (f: string | readonly string[]): readonly string[] => (typeof f === 'string' ? f.split(' ').filter(Boolean) : f);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Reads everything through the Store API, checking what one snapshot must satisfy on the way. */
async function snapshot(store: Store): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const user of await store.listUsers()) {
    // the state first: whatever the listing shows happened at or before it
    const state = await store.changeState(user.id);
    const u: UserSnap = { state, folders: new Map(), objects: new Map() };
    let userMessages = 0;
    let userBytes = 0;
    const counts = new Map((await store.listFolderCounts(user.id)).map((c) => [c.folder.id, c]));
    for (const folder of await store.listFolders(user.id)) {
      const where = `user ${user.address}, folder "${folder.name}"`;
      // listings before the status: UIDNEXT and HIGHESTMODSEQ read later can only be higher
      const list = await store.listMessages(user.id, folder.id);
      const index = await store.listMessageIndex(user.id, folder.id);
      const page = await store.listMessagePage(user.id, folder.id, 0, list.length + 10);
      const status = await store.folderStatus(user.id, folder.id);
      const f: FolderSnap = {
        id: folder.id, mailboxId: folder.mailboxId, name: folder.name, uidValidity: status.uidValidity, uidNext: status.uidNext,
        highestModseq: status.highestModseq, messages: new Map(),
      };
      for (let i = 0; i < list.length; i++) {
        const m = list[i]!;
        if (i > 0 && list[i - 1]!.uid >= m.uid) fail('UIDs visible in UID order', `${where}: UID ${m.uid} listed after ${list[i - 1]!.uid}`);
        if (m.uid >= status.uidNext) fail('UIDs below UIDNEXT', `${where}: UID ${m.uid}, UIDNEXT ${status.uidNext}`);
        if (m.modseq > status.highestModseq) fail('MODSEQ at most HIGHESTMODSEQ', `${where}: UID ${m.uid} has MODSEQ ${m.modseq} > ${status.highestModseq}`);
      }
      if (!same([...index.uids], list.map((m) => m.uid)) || !same([...index.modseqs], list.map((m) => m.modseq)) || !same(index.flags.map((x) => flagText(indexFlags(x))), list.map((m) => flagText(m.flags)))) {
        fail('listMessageIndex equals listMessages', where);
      }
      const byUid = new Map(list.map((m) => [m.uid, m]));
      if (page.total !== list.length) fail('folder counters equal a recount', `${where}: listMessagePage total ${page.total}, ${list.length} messages listed`);
      if (!same(page.items.map((m) => m.uid).sort((a, b) => a - b), list.map((m) => m.uid))) fail('message list equals the messages', `${where}: the page lists other UIDs than listMessages`);
      for (let i = 1; i < page.items.length; i++) {
        const a = page.items[i - 1]!;
        const b = page.items[i]!;
        const ordered = a.internalDate.getTime() > b.internalDate.getTime() || (a.internalDate.getTime() === b.internalDate.getTime() && a.uid > b.uid);
        if (!ordered) fail('message list order (newest first)', `${where}: UID ${b.uid} listed after ${a.uid}`);
      }
      for (const item of page.items) {
        const m = byUid.get(item.uid)!;
        if (item.modseq !== m.modseq || flagText(item.flags) !== flagText(m.flags) || item.size !== m.size) fail('message list equals the messages', `${where}: UID ${item.uid} differs`);
        f.messages.set(item.uid, { uid: item.uid, modseq: item.modseq, flags: flagText(item.flags), objectId: item.objectId });
        if (u.objects.has(item.objectId)) fail('object ids unique', `${where}: ${item.objectId} twice in the account`);
        u.objects.set(item.objectId, folder.id);
      }
      const recount = { messages: list.length, unseen: list.filter((m) => !m.flags.includes('\\Seen')).length, size: list.reduce((s, m) => s + m.size, 0) };
      if (!same({ messages: status.messages, unseen: status.unseen, size: status.size }, recount)) fail('folder counters equal a recount', `${where}: folderStatus ${JSON.stringify(status)}, recount ${JSON.stringify(recount)}`);
      const c = counts.get(folder.id);
      if (!c || !same({ messages: c.messages, unseen: c.unseen, size: c.size }, recount)) fail('folder counters equal a recount', `${where}: listFolderCounts ${JSON.stringify(c && { messages: c.messages, unseen: c.unseen, size: c.size })}, recount ${JSON.stringify(recount)}`);
      userMessages += recount.messages;
      userBytes += recount.size;
      u.folders.set(folder.id, f);
    }
    const q = await store.quota(user.id);
    if (q.messages !== userMessages || q.usedBytes !== userBytes) fail('user counters equal a recount', `user ${user.address}: quota says ${q.messages} messages/${q.usedBytes} bytes, folders hold ${userMessages}/${userBytes}`);
    out.set(user.id, u);
  }
  return out;
}

/** The same counters and the list order, recounted by the backend's inspector from outside the Store. */
async function inspect(inspector: Inspector): Promise<void> {
  for (const f of await inspector.folderCounters()) {
    if (!same(f.stored, f.recount)) fail('folder counters equal a recount', `folder ${f.folderId}: kept ${JSON.stringify(f.stored)}, recount ${JSON.stringify(f.recount)}`);
  }
  for (const u of await inspector.userCounters()) {
    if (!same(u.stored, u.recount)) fail('user counters equal a recount', `user ${u.userId}: kept ${JSON.stringify(u.stored)}, recount ${JSON.stringify(u.recount)}`);
  }
  for (const l of await inspector.listOrders()) {
    if (!same(l.kept, l.recomputed)) {
      const i = l.kept.findIndex((k, n) => k !== l.recomputed[n]);
      fail('message list order equals the order it replaces', `folder ${l.folderId}: ${l.kept.length} kept, ${l.recomputed.length} messages; first difference at ${i < 0 ? l.kept.length : i}: kept "${l.kept[i] ?? ''}", expected "${l.recomputed[i] ?? ''}"`);
    }
  }
}

/** What must hold between the snapshot before a write (or several) and the one after. */
async function compare(store: Store, inspector: Inspector, before: Snapshot, after: Snapshot): Promise<void> {
  for (const [userId, b] of before) {
    const a = after.get(userId);
    if (!a) continue; // the user was removed
    let changed = false;
    /** Messages that left a folder (removed, or moved away): each must leave a tombstone. */
    const left: string[] = [];
    for (const [folderId, fb] of b.folders) {
      const fa = a.folders.get(folderId);
      if (!fa) {
        changed = true;
        continue;
      }
      const where = `folder "${fa.name}"`;
      if (fa.uidValidity !== fb.uidValidity) fail('UIDVALIDITY kept', `${where}: ${fb.uidValidity} → ${fa.uidValidity}`);
      if (fa.mailboxId !== fb.mailboxId) fail('mailbox ids stable', `${where}: ${fb.mailboxId} → ${fa.mailboxId}`);
      if (fa.uidNext < fb.uidNext) fail('UIDNEXT never goes back', `${where}: ${fb.uidNext} → ${fa.uidNext}`);
      if (fa.highestModseq < fb.highestModseq) fail('MODSEQ strictly increasing per folder', `${where}: HIGHESTMODSEQ ${fb.highestModseq} → ${fa.highestModseq}`);
      let messagesChanged = false;
      const removed: number[] = [];
      for (const [uid, mb] of fb.messages) {
        const ma = fa.messages.get(uid);
        if (!ma) removed.push(uid);
        else if (ma.objectId !== mb.objectId) fail('a UID names one message', `${where}: UID ${uid} was ${mb.objectId}, is ${ma.objectId}`);
        else if (ma.modseq !== mb.modseq || ma.flags !== mb.flags) {
          messagesChanged = true;
          if (ma.modseq <= fb.highestModseq) fail('MODSEQ strictly increasing per folder', `${where}: UID ${uid} changed (${mb.flags} → ${ma.flags}) with MODSEQ ${ma.modseq}, not above the old HIGHESTMODSEQ ${fb.highestModseq}`);
        }
      }
      for (const [uid, ma] of fa.messages) {
        if (fb.messages.has(uid)) continue;
        messagesChanged = true;
        if (uid < fb.uidNext) fail('UIDs never reused', `${where}: new message with UID ${uid} below the old UIDNEXT ${fb.uidNext}`);
        if (ma.modseq <= fb.highestModseq) fail('MODSEQ strictly increasing per folder', `${where}: new UID ${uid} has MODSEQ ${ma.modseq}, not above the old HIGHESTMODSEQ ${fb.highestModseq}`);
      }
      if (removed.length) {
        messagesChanged = true;
        left.push(...removed.map((uid) => fb.messages.get(uid)!.objectId));
        const expunged = new Set((await store.expungedSince(userId, folderId, fb.highestModseq)).map((e) => e.uid));
        const missing = removed.filter((u) => !expunged.has(u));
        if (missing.length) fail('tombstones present for removed messages', `${where}: UIDs ${missing.join(',')} removed but not in expungedSince(${fb.highestModseq})`);
      }
      if (messagesChanged && fa.highestModseq === fb.highestModseq) {
        fail('MODSEQ strictly increasing per folder', `${where}: its messages changed, HIGHESTMODSEQ stayed ${fa.highestModseq}`);
      }
      if (messagesChanged || fa.name !== fb.name) changed = true;
    }
    for (const id of a.folders.keys()) if (!b.folders.has(id)) changed = true;
    const gone = [...b.objects.keys()].filter((o) => !a.objects.has(o));
    const created = [...a.objects.keys()].filter((o) => !b.objects.has(o));
    const moved = [...a.objects].filter(([o, f]) => b.objects.has(o) && b.objects.get(o) !== f).map(([o]) => o);
    if (gone.length || created.length || moved.length) changed = true;
    if (changed && a.state === b.state) fail('every change moves the account state', `user ${userId}: state stayed ${a.state}`);
    if (!changed) continue;
    const tombstones = await inspector.messageTombstones(userId);
    for (const o of left) if (!tombstones.has(o)) fail('tombstones present for removed messages', `user ${userId}: ${o} left its folder and has no tombstone`);
    let c: Awaited<ReturnType<Store['changesSince']>>;
    try {
      c = await store.changesSince(userId, b.state, 1_000_000_000);
    } catch (err) {
      return fail('the account state never goes back', `user ${userId}: changesSince(${b.state}), the state before the write, failed: ${(err as Error).message}`);
    }
    const destroyed = new Set(c.messages.destroyed);
    for (const o of gone) if (!destroyed.has(o)) fail('tombstones present for removed messages', `user ${userId}: ${o} is gone but changesSince does not report it destroyed`);
    const createdSet = new Set(c.messages.created);
    for (const o of created) if (!createdSet.has(o)) fail('changesSince reports what changed', `user ${userId}: new ${o} not reported created`);
    const touched = new Set([...c.messages.created, ...c.messages.updated]);
    for (const o of moved) if (!touched.has(o)) fail('changesSince reports what changed', `user ${userId}: ${o} moved, not reported updated`);
  }
}

/** Every invariant that one state must satisfy (after a crash and reopen, say), through the Store and the inspector. */
export async function checkInvariants(backend: Pick<OpenBackend, 'store' | 'inspector'>): Promise<void> {
  await snapshot(backend.store);
  await inspect(backend.inspector);
}

export interface Checked {
  /** The store to use: every write through it is followed by the invariant check. */
  store: Store;
  /** Runs the whole check now (also what every write runs). */
  check(): Promise<void>;
  /** How many checks ran (a contract can see the proxy is in place). */
  readonly checks: number;
}

/** Wraps a backend's store so that every write re-checks every invariant. */
export async function checked(backend: Pick<OpenBackend, 'store' | 'inspector'>): Promise<Checked> {
  const raw = backend.store;
  let last = await snapshot(raw);
  let checks = 0;
  let inFlight = 0;
  const check = async () => {
    checks++;
    const next = await snapshot(raw);
    await inspect(backend.inspector);
    await compare(raw, backend.inspector, last, next);
    last = next;
  };
  const store = new Proxy(raw, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof v !== 'function' || READS.has(prop)) return typeof v === 'function' ? v.bind(target) : v;
      return async (...args: unknown[]) => {
        inFlight++;
        let result: unknown;
        let error: unknown = null;
        try {
          result = await (v as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          error = err ?? new Error('rejected');
        }
        if (--inFlight === 0) await check(); // a violation replaces the write's own outcome
        if (error) throw error;
        return result;
      };
    },
  });
  return { store, check, get checks() { return checks; } };
}
