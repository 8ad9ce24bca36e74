/**
 * EWS notification subscriptions (pull and streaming), per server: each follows the store's
 * ChangeBus for its user and, when told to look again, asks Store.changesSince from its own
 * state (per watched folder, or account-wide for SubscribeToAllFolders), so that events carry
 * the ids that changed and none is lost between two looks. Events queue on the subscription
 * until a GetEvents takes them or a GetStreamingEvents connection is woken for them.
 */
import { randomUUID } from 'node:crypto';
import type { ServerContext } from '../../server/context.js';
import type { Folder } from '../../store/types.js';
import { folderIdXml, itemChangeKey, itemIdXml } from './ids.js';
import { ewsDate } from './items.js';
import { esc } from './xml.js';

export const EVENT_TYPES = ['CopiedEvent', 'CreatedEvent', 'DeletedEvent', 'ModifiedEvent', 'MovedEvent', 'NewMailEvent', 'FreeBusyChangedEvent'] as const;

/** A streaming subscription lives this long without a connection; a pull one its Timeout (minutes) without a GetEvents. */
const STREAMING_IDLE_MS = 30 * 60_000;
const SWEEP_MS = 60_000;

export interface Subscription {
  id: string;
  userId: number;
  streaming: boolean;
  /** Watched folders (null: every folder), with the change state each has been read to. */
  folders: Map<number, string> | null;
  accountState: string;
  types: Set<string>;
  /** Rendered events not yet handed out (inner XML of a Notification). */
  queue: string[];
  watermark: number;
  idleMs: number;
  lastUse: number;
  /** Streaming connections waiting for events. */
  waiters: Set<() => void>;
  stopWatching: () => void;
  /** Unsubscribed, expired, or the server is closing: a stream waiting on it ends. */
  removed: boolean;
  /** Serialises the looks at the store (a change while looking is looked at after). */
  looking: Promise<void>;
}

export class SubscriptionTable {
  private readonly subs = new Map<string, Subscription>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly ctx: ServerContext) {
    this.sweep = setInterval(() => this.expire(), SWEEP_MS);
    this.sweep.unref();
  }

  get size(): number {
    return this.subs.size;
  }

  async create(userId: number, opts: { streaming: boolean; folders: Folder[] | null; types: string[]; timeoutMinutes?: number }): Promise<Subscription> {
    const state = await this.ctx.store.changeState(userId);
    const sub: Subscription = {
      id: Buffer.from(randomUUID()).toString('base64url'), userId, streaming: opts.streaming,
      folders: opts.folders ? new Map(opts.folders.map((f) => [f.id, state])) : null, accountState: state,
      types: new Set(opts.types), queue: [], watermark: 0,
      idleMs: opts.streaming ? STREAMING_IDLE_MS : Math.max(1, Math.min(1440, opts.timeoutMinutes ?? 30)) * 60_000,
      lastUse: Date.now(), removed: false, waiters: new Set(), stopWatching: () => undefined, looking: Promise.resolve(),
    };
    sub.stopWatching = this.ctx.changes.subscribeUser(userId, () => {
      sub.looking = sub.looking.then(() => this.look(sub)).catch((err: unknown) => this.ctx.log.warn({ err }, 'EWS subscription: looking at changes failed'));
    });
    this.subs.set(sub.id, sub);
    return sub;
  }

  get(id: string, userId: number): Subscription | null {
    const s = this.subs.get(id);
    if (!s || s.userId !== userId) return null;
    s.lastUse = Date.now();
    return s;
  }

  remove(sub: Subscription): void {
    sub.stopWatching();
    sub.removed = true;
    this.subs.delete(sub.id);
    for (const w of sub.waiters) w();
  }

  close(): void {
    clearInterval(this.sweep);
    for (const s of [...this.subs.values()]) this.remove(s);
  }

  watermark(sub: Subscription): string {
    return Buffer.from(`${sub.id}:${sub.watermark}`).toString('base64');
  }

  /** Waits until the look at the store that a change started has finished (tests, GetEvents). */
  settled(sub: Subscription): Promise<void> {
    return sub.looking;
  }

  private expire(): void {
    const now = Date.now();
    for (const s of [...this.subs.values()]) if (s.waiters.size === 0 && now - s.lastUse > s.idleMs) this.remove(s);
  }

  private async look(sub: Subscription): Promise<void> {
    if (!this.subs.has(sub.id)) return;
    const { store } = this.ctx;
    const folders = new Map((await store.listFolders(sub.userId)).map((f) => [f.id, f]));
    const now = ewsDate(new Date());
    const push = (type: string, inner: string) => {
      if (!sub.types.has(type)) return;
      sub.watermark += 1;
      const wm = sub.streaming ? '' : `<t:Watermark>${esc(this.watermark(sub))}</t:Watermark>`;
      sub.queue.push(`<t:${type}>${wm}<t:TimeStamp>${now}</t:TimeStamp>${inner}</t:${type}>`);
    };
    const itemEvents = async (created: string[], updated: string[], destroyed: string[], parent: Folder | null) => {
      for (const id of created) {
        const m = await store.getMessage(sub.userId, id);
        if (!m) continue;
        const f = folders.get(m.folderId) ?? null;
        const inner = itemIdXml(m.objectId, itemChangeKey(m.folderId, m.modseq)) + folderIdXml(f, 't:ParentFolderId');
        if (f?.specialUse !== '\\Drafts' && f?.specialUse !== '\\Sent') push('NewMailEvent', inner);
        push('CreatedEvent', inner);
      }
      for (const id of updated) {
        const m = await store.getMessage(sub.userId, id);
        if (m) push('ModifiedEvent', itemIdXml(m.objectId, itemChangeKey(m.folderId, m.modseq)) + folderIdXml(folders.get(m.folderId) ?? null, 't:ParentFolderId'));
      }
      for (const id of destroyed) push('DeletedEvent', itemIdXml(id) + folderIdXml(parent, 't:ParentFolderId'));
    };
    if (sub.folders) {
      for (const [folderId, state] of sub.folders) {
        let from = state;
        for (;;) {
          const r = await store.changesSince(sub.userId, from, 1000, { folderId });
          await itemEvents(r.messages.created, r.messages.updated, r.messages.destroyed, folders.get(folderId) ?? null);
          from = r.newState;
          if (!r.hasMore) break;
        }
        sub.folders.set(folderId, from);
      }
    } else {
      let from = sub.accountState;
      for (;;) {
        const r = await store.changesSince(sub.userId, from, 1000);
        await itemEvents(r.messages.created, r.messages.updated, r.messages.destroyed, null);
        const byMailbox = new Map([...folders.values()].map((f) => [f.mailboxId, f]));
        for (const id of r.folders.created) { const f = byMailbox.get(id); if (f) push('CreatedEvent', folderIdXml(f) + folderIdXml(null, 't:ParentFolderId')); }
        for (const id of r.folders.updated) { const f = byMailbox.get(id); if (f) push('ModifiedEvent', folderIdXml(f) + folderIdXml(null, 't:ParentFolderId')); }
        for (const id of r.folders.destroyed) push('DeletedEvent', `<t:FolderId Id="${esc(id)}"/>` + folderIdXml(null, 't:ParentFolderId'));
        from = r.newState;
        if (!r.hasMore) break;
      }
      sub.accountState = from;
    }
    if (sub.queue.length) for (const w of sub.waiters) w();
  }
}

const tables = new WeakMap<ServerContext, SubscriptionTable>();

/** This server's subscriptions (one table per server context). */
export function subscriptionsOf(ctx: ServerContext): SubscriptionTable {
  let t = tables.get(ctx);
  if (!t) {
    t = new SubscriptionTable(ctx);
    tables.set(ctx, t);
  }
  return t;
}

/** Ends every subscription of a server that is closing (streams answer Closed). */
export function closeSubscriptions(ctx: ServerContext): void {
  tables.get(ctx)?.close();
  tables.delete(ctx);
}
