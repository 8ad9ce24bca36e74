import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { InProcessChangeBus, type ChangeBus, type ChangeListener, type StoreChange, type Unsubscribe } from '../store/change-bus.js';

/** What the safety check reads: the user's folders with their HIGHESTMODSEQ (Store.listFolders). */
export type FolderProbe = (userId: number) => Promise<Array<{ id: number; highestModseq: number }>>;

export interface RedisChangeBusOptions {
  prefix: string;
  onListenerError?: (err: unknown) => void;
  /** Where publish and safety-check failures are reported. */
  onError?: (what: string, err: unknown) => void;
}

interface Watched {
  subscriptions: number;
  /** Folder id -> HIGHESTMODSEQ as last heard or read; undefined until the first read. */
  modseqs?: Map<number, number>;
}

/**
 * Change notification between nodes: after the store committed, publish() tells this node's
 * subscribers at once and sends one small message (~80 bytes) on one Redis channel; every other
 * node hands it to its own subscribers, which re-read the store (a notification only says "look
 * again"). One channel for the deployment, subscribed when the bus opens, so that a subscriber
 * never misses a change published right after it subscribed (per-user channels would race the
 * SUBSCRIBE); each node therefore hears every change, which at tens of bytes per change is cheap.
 *
 * Pub/sub is fire and forget: a message is lost when Redis or the connection drops. So the bus
 * compares each watched user's HIGHESTMODSEQs with the store when the subscription connection
 * comes back and every `checkMs`, and wakes the watchers of a folder that moved: a lost message
 * costs at most one check interval, never a stale client.
 */
export class RedisChangeBus implements ChangeBus {
  private readonly local: InProcessChangeBus;
  private readonly instance = randomUUID();
  private readonly channel: string;
  private readonly watched = new Map<number, Watched>();
  private probe: FolderProbe | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private checking = false;
  /** Counters for tests and metrics: messages sent/heard, changes the safety check found. */
  readonly stats = { published: 0, heard: 0, caughtUp: 0 };

  private constructor(private readonly pub: Redis, private readonly sub: Redis, private readonly opts: RedisChangeBusOptions) {
    this.local = new InProcessChangeBus(opts.onListenerError);
    this.channel = `${opts.prefix}changes`;
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.heard(message);
    });
    // after a reconnect, messages sent meanwhile are gone: look at the store
    let first = true;
    sub.on('ready', () => {
      if (!first) void this.check();
      first = false;
    });
  }

  static async open(redis: Redis, opts: RedisChangeBusOptions): Promise<RedisChangeBus> {
    const sub = redis.duplicate();
    const bus = new RedisChangeBus(redis, sub, opts);
    await sub.subscribe(bus.channel);
    return bus;
  }

  /** Starts the safety check (the store exists only after the bus it publishes on). */
  startSafetyCheck(probe: FolderProbe, checkMs = 10_000): void {
    this.probe = probe;
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = setInterval(() => void this.check(), checkMs);
    this.checkTimer.unref();
  }

  publish(change: StoreChange): void {
    this.remember(change);
    this.local.publish(change);
    this.stats.published++;
    const { userId, folderId, kind, modseq } = change;
    this.pub.publish(this.channel, JSON.stringify({ n: this.instance, u: userId, f: folderId, k: kind, m: modseq })).catch((err) => {
      // the change is committed; the other nodes' safety check finds it
      this.opts.onError?.('publishing a store change', err);
    });
  }

  private heard(message: string): void {
    let m: { n: string; u: number; f: number; k: StoreChange['kind']; m: number };
    try {
      m = JSON.parse(message);
    } catch {
      return;
    }
    if (m.n === this.instance) return; // told to this node's subscribers when published
    this.stats.heard++;
    if (!this.watched.has(m.u)) return;
    const change: StoreChange = { userId: m.u, folderId: m.f, kind: m.k, modseq: m.m };
    this.remember(change);
    this.local.publish(change);
  }

  private remember(c: StoreChange): void {
    const w = this.watched.get(c.userId);
    if (w?.modseqs && c.kind !== 'folders' && c.modseq > (w.modseqs.get(c.folderId) ?? 0)) w.modseqs.set(c.folderId, c.modseq);
  }

  subscribeUser(userId: number, listener: ChangeListener): Unsubscribe {
    return this.watch(userId, this.local.subscribeUser(userId, listener));
  }

  subscribeFolder(userId: number, folderId: number, listener: ChangeListener): Unsubscribe {
    return this.watch(userId, this.local.subscribeFolder(userId, folderId, listener));
  }

  private watch(userId: number, stop: Unsubscribe): Unsubscribe {
    let w = this.watched.get(userId);
    if (!w) {
      this.watched.set(userId, (w = { subscriptions: 0 }));
      void this.checkUser(userId, w); // the baseline the safety check compares with
    }
    w.subscriptions++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      stop();
      if (--w.subscriptions === 0 && this.watched.get(userId) === w) this.watched.delete(userId);
    };
  }

  /** The safety check: every watched user's folders against what this node last heard. */
  async check(): Promise<void> {
    if (this.checking || !this.probe) return;
    this.checking = true;
    try {
      for (const [userId, w] of [...this.watched]) await this.checkUser(userId, w);
    } finally {
      this.checking = false;
    }
  }

  private async checkUser(userId: number, w: Watched): Promise<void> {
    if (!this.probe) return;
    let folders: Array<{ id: number; highestModseq: number }>;
    try {
      folders = await this.probe(userId);
    } catch (err) {
      this.opts.onError?.('checking HIGHESTMODSEQ', err);
      return;
    }
    const before = w.modseqs;
    w.modseqs = new Map(folders.map((f) => [f.id, Math.max(f.highestModseq, before?.get(f.id) ?? 0)]));
    if (!before) return;
    const missed: StoreChange[] = [];
    for (const f of folders) {
      const known = before.get(f.id);
      if (known === undefined) missed.push({ userId, folderId: f.id, kind: 'folders', modseq: 0 });
      else if (f.highestModseq > known) missed.push({ userId, folderId: f.id, kind: 'flags', modseq: f.highestModseq });
    }
    for (const id of before.keys()) if (!w.modseqs.has(id)) missed.push({ userId, folderId: id, kind: 'folders', modseq: 0 });
    for (const c of missed) {
      this.stats.caughtUp++;
      this.local.publish(c);
    }
  }

  async close(): Promise<void> {
    if (this.checkTimer) clearInterval(this.checkTimer);
    await this.local.close();
    this.sub.disconnect();
  }
}
