import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type {
  AcquireResult, EndReason, KillHandler, NodeInfo, ObjectResult, Replacement, SessionAccounting, SessionLimits, SessionRecord, UserSessionCounts,
} from '../governor/accounting.js';
import type { ObjectType, SessionKind } from '../settings/catalog.js';
import type { Clock } from '../shared-state/clock.js';
import * as lua from './redis-accounting-scripts.js';

export interface RedisAccountingOptions {
  /** Key prefix of the deployment (several deployments or tests may share one Redis). */
  prefix: string;
  /** How long a node's sessions live without a renewal (ms). */
  leaseMs?: number;
  /** How often an attached node renews its lease (ms); 0 = only on heartbeat() (the contract suite). */
  renewMs?: number;
  /** Only for tests: time comes from this clock instead of Redis's TIME. */
  clock?: Clock;
  /** How long a kill waits for the owning node to end the session before releasing it here (ms). */
  killTimeoutMs?: number;
  /** Where failures of background work (renewals, routed kills) are reported. */
  onError?: (what: string, err: unknown) => void;
}

/** A node of this process: how it ends its sessions, and its lease as this process knows it. */
interface LocalNode {
  kill: KillHandler;
  /** performance.now() when the last successful renewal was sent: the lease is ours until then + leaseMs. */
  renewedAt: number;
  renewTimer?: NodeJS.Timeout;
  fenceTimer?: NodeJS.Timeout;
  renewing: boolean;
}

/** Thrown while the accounting cannot decide (Redis unreachable, this node fenced): the front end answers "try again later". */
export class AccountingUnavailable extends Error {
  override readonly name = 'AccountingUnavailable';
}

type Reply = Array<string | null> | null;
type Scripts = Redis & Record<`mwAcc${string}`, (...args: Array<string | number>) => Promise<unknown>>;

const SCRIPTS = {
  mwAccAcquire: lua.ACQUIRE, mwAccRelease: lua.RELEASE, mwAccUpdate: lua.UPDATE, mwAccRead: lua.READ, mwAccCounts: lua.COUNTS,
  mwAccRenew: lua.RENEW, mwAccAdopt: lua.ADOPT_EPOCH, mwAccReregister: lua.REREGISTER, mwAccReleaseNode: lua.RELEASE_NODE, mwAccNodes: lua.NODES,
};

interface StoredRecord extends Omit<SessionRecord, 'openedAt' | 'lastActivity'> {
  openedAt: number;
  lastActivity: number;
}

const encode = (s: SessionRecord): string => JSON.stringify({ ...s, openedAt: s.openedAt.getTime(), lastActivity: s.lastActivity.getTime() });
function decode(raw: string): SessionRecord {
  const r = JSON.parse(raw) as StoredRecord;
  // an empty Lua table comes back as [] from cjson
  const objects = Array.isArray(r.objects) ? {} : r.objects;
  return { ...r, clientInfo: r.clientInfo ?? null, objects, openedAt: new Date(r.openedAt), lastActivity: new Date(r.lastActivity) };
}

/**
 * Session accounting shared by the nodes of a cluster, on Redis. Every acquire is one Lua script:
 * it drops the sessions of nodes whose lease ran out, counts the user's sessions (all, service,
 * this kind), checks them in the article's order and adds the lease, on Redis's clock; so the
 * limits are exact across nodes, not approximate counters.
 *
 * Leases are per node: a node renews every `renewMs`; a node that cannot renew ends its own
 * sessions (fencing) before its lease could run out in Redis, so no place is ever counted free
 * while its client is still connected. When Redis loses its data (restart without persistence,
 * FLUSHALL), the epoch key is gone: the first node to notice writes a new one and opens a
 * recovery window of one lease, each node re-registers its live sessions, and acquires wait
 * until the window closes, so no logon is admitted on counts that miss live sessions.
 * Kills are routed to the owning node over pub/sub; that node closes the connection.
 */
export class RedisAccounting implements SessionAccounting {
  private readonly r: Scripts;
  private readonly sub: Redis;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly killTimeoutMs: number;
  private readonly instance = randomUUID();
  private readonly localNodes = new Map<string, LocalNode>();
  /** Live sessions of this process's nodes: what is re-registered after Redis lost its data. */
  private readonly localSessions = new Map<string, SessionRecord>();
  private readonly pendingKills = new Map<string, () => void>();
  private epoch = '';
  private recovering: Promise<void> | undefined;
  private closed = false;
  /** Counters for /metrics and the benchmark. */
  readonly stats = { fenced: 0, recoveries: 0, routedKills: 0 };

  private constructor(redis: Redis, private readonly opts: RedisAccountingOptions) {
    for (const [name, script] of Object.entries(SCRIPTS)) if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 0, lua: script });
    this.r = redis as Scripts;
    this.sub = redis.duplicate();
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.renewMs = opts.renewMs ?? Math.floor(this.leaseMs / 3);
    this.killTimeoutMs = opts.killTimeoutMs ?? 5_000;
    this.sub.on('messageBuffer', () => undefined);
    this.sub.on('message', (channel: string, message: string) => void this.onMessage(channel, message));
  }

  /** Connects and joins the deployment's epoch (writing it when this is the first node on an empty Redis). */
  static async open(redis: Redis, opts: RedisAccountingOptions): Promise<RedisAccounting> {
    const a = new RedisAccounting(redis, opts);
    const candidate = randomUUID();
    await a.r.set(`${opts.prefix}epoch`, candidate, 'NX');
    a.epoch = (await a.r.get(`${opts.prefix}epoch`)) ?? candidate;
    await a.sub.subscribe(a.channel('reply', a.instance));
    return a;
  }

  private channel(what: 'kill' | 'reply', id: string): string {
    return `${this.opts.prefix}${what}:${id}`;
  }

  private time(): string {
    return this.opts.clock ? String(this.opts.clock.now()) : '';
  }

  private run(name: keyof typeof SCRIPTS, ...args: Array<string | number>): Promise<unknown> {
    return this.r[name]!(this.opts.prefix, this.time(), ...args);
  }

  async tryAcquire(s: SessionRecord, limits: SessionLimits, replacing?: Replacement): Promise<AcquireResult> {
    const local = this.localNodes.has(s.node);
    for (let attempt = 0; ; attempt++) {
      const r = (await this.run(
        'mwAccAcquire', this.epoch, s.id, s.userId, s.kind, s.node, encode(s), limits.all, limits.service, limits.perKind,
        limits.disabled ? '1' : '0', replacing?.id ?? '', replacing?.idleBefore.getTime() ?? 0, local ? '1' : '0',
      )) as Reply;
      const [status, a, b] = r ?? [];
      if (status === 'ok') {
        if (local) this.localSessions.set(s.id, copy(s));
        if (!a) return { ok: true };
        const victim = decode(a);
        this.localSessions.delete(victim.id);
        await this.route(victim, replacing!.reason);
        return { ok: true, replaced: victim };
      }
      if (status === 'gone') return { ok: false, scope: 'gone' };
      if (status === 'all' || status === 'service' || status === 'kind') return { ok: false, scope: status, limit: Number(a), count: Number(b) };
      if (attempt >= 50) throw new AccountingUnavailable('session accounting: Redis is recovering; try again later');
      if (status === 'epoch') await this.recover();
      else if (status === 'recovering') await new Promise((res) => setTimeout(res, Math.min(Number(a), 1_000)).unref?.());
      else if (status === 'fenced') {
        // this node's lease ran out (Redis was unreachable): renew first; its old sessions were ended
        if (!(await this.renew(s.node))) throw new AccountingUnavailable('session accounting: this node cannot renew its lease; try again later');
      } else throw new Error(`session accounting: unexpected reply ${JSON.stringify(r)}`);
    }
  }

  async release(id: string): Promise<SessionRecord | undefined> {
    this.localSessions.delete(id);
    const raw = (await this.run('mwAccRelease', id)) as string | null;
    return raw ? decode(raw) : undefined;
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.run('mwAccUpdate', id, 'touch', at.getTime(), 0);
  }

  async setClientInfo(id: string, info: string): Promise<void> {
    const mine = this.localSessions.get(id);
    if (mine) mine.clientInfo = info;
    await this.run('mwAccUpdate', id, 'info', info, 0);
  }

  async openObject(id: string, type: ObjectType, limit: number): Promise<ObjectResult> {
    const held = Number(await this.run('mwAccUpdate', id, 'open', type, limit));
    return held < 0 ? { ok: true } : { ok: false, count: held };
  }

  async closeObject(id: string, type: ObjectType): Promise<void> {
    await this.run('mwAccUpdate', id, 'close', type, 0);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const [raw] = (await this.run('mwAccRead', '', id)) as string[];
    return raw ? decode(raw) : undefined;
  }

  async list(filter: { userId?: number } = {}): Promise<SessionRecord[]> {
    return ((await this.run('mwAccRead', filter.userId ?? '', '')) as string[]).map(decode);
  }

  async counts(userId: number): Promise<UserSessionCounts> {
    const kinds = (await this.run('mwAccCounts', userId)) as SessionKind[];
    const byKind: Partial<Record<SessionKind, number>> = {};
    for (const k of kinds) byKind[k] = (byKind[k] ?? 0) + 1;
    return { all: kinds.length, service: kinds.filter((k) => k !== 'admin').length, byKind };
  }

  async attachNode(nodeId: string, kill: KillHandler): Promise<void> {
    const existing = this.localNodes.get(nodeId);
    if (existing) this.stopTimers(existing);
    const node: LocalNode = { kill, renewedAt: 0, renewing: false };
    this.localNodes.set(nodeId, node);
    await this.sub.subscribe(this.channel('kill', nodeId));
    if (!(await this.renew(nodeId))) throw new AccountingUnavailable(`session accounting: cannot register node ${nodeId}`);
    if (this.renewMs > 0) {
      node.renewTimer = setInterval(() => void this.renew(nodeId), this.renewMs);
      node.renewTimer.unref();
    }
  }

  async heartbeat(nodeId: string): Promise<void> {
    if (this.localNodes.has(nodeId)) await this.renew(nodeId);
    else await this.run('mwAccRenew', this.epoch, nodeId, this.leaseMs);
  }

  /**
   * Renews the node's lease; true when Redis took it. On success the fencing deadline moves to
   * one lease after the moment the request was sent (Redis's expiry is at least that late).
   */
  private async renew(nodeId: string): Promise<boolean> {
    const node = this.localNodes.get(nodeId);
    if (!node || node.renewing || this.closed) return false;
    node.renewing = true;
    const sentAt = performance.now();
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const [status] = ((await this.run('mwAccRenew', this.epoch, nodeId, this.leaseMs)) as Reply) ?? [];
        if (status === 'ok') {
          this.armFence(nodeId, node, sentAt);
          return true;
        }
        if (status === 'epoch') {
          node.renewing = false; // recover() renews through REREGISTER
          await this.recover();
          node.renewing = true;
          if (this.localNodes.get(nodeId) === node && node.renewedAt >= sentAt) return true;
        }
      }
      return false;
    } catch (err) {
      this.opts.onError?.(`renewing the lease of node ${nodeId}`, err);
      return false;
    } finally {
      node.renewing = false;
    }
  }

  private armFence(nodeId: string, node: LocalNode, sentAt: number): void {
    node.renewedAt = sentAt;
    if (node.fenceTimer) clearTimeout(node.fenceTimer);
    // end the sessions a little before Redis could count their places free (clock rates, the kill's own time)
    const margin = Math.min(1_000, this.leaseMs / 10);
    const at = sentAt + this.leaseMs - margin - performance.now();
    node.fenceTimer = setTimeout(() => void this.fence(nodeId, node), Math.max(0, at));
    node.fenceTimer.unref();
  }

  /** The lease is about to run out unrenewed: this node ends its own sessions (their places may be given to others). */
  private async fence(nodeId: string, node: LocalNode): Promise<void> {
    if (this.localNodes.get(nodeId) !== node) return;
    this.stats.fenced++;
    const mine = [...this.localSessions.values()].filter((s) => s.node === nodeId);
    for (const s of mine) {
      this.localSessions.delete(s.id);
      try {
        await node.kill(s.id, 'error');
      } catch (err) {
        this.opts.onError?.(`ending session ${s.id} at fencing`, err);
      }
    }
  }

  /**
   * Redis lost its data (the epoch changed or is gone): adopt the new epoch (opening the recovery
   * window if this node is the first to notice) and re-register this process's live sessions.
   * One recovery at a time per process; concurrent callers wait for it.
   */
  private recover(): Promise<void> {
    this.recovering ??= (async () => {
      this.stats.recoveries++;
      this.epoch = String(await this.run('mwAccAdopt', randomUUID(), this.leaseMs));
      for (const [nodeId, node] of this.localNodes) {
        const sentAt = performance.now();
        const records = [...this.localSessions.values()].filter((s) => s.node === nodeId).map(encode);
        await this.run('mwAccReregister', nodeId, this.leaseMs, ...records);
        this.armFence(nodeId, node, sentAt);
      }
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  async nodes(): Promise<NodeInfo[]> {
    const flat = (await this.run('mwAccNodes')) as string[];
    const out: NodeInfo[] = [];
    for (let i = 0; i < flat.length; i += 3) out.push({ id: flat[i]!, lastSeen: new Date(Number(flat[i + 1])), sessions: Number(flat[i + 2]) });
    return out;
  }

  async kill(sessionId: string, reason: EndReason): Promise<SessionRecord | undefined> {
    const record = await this.get(sessionId);
    if (!record) return undefined;
    await this.route(record, reason);
    // the owning node released it; one that is gone, failed or too slow cannot, so release here
    await this.release(sessionId);
    return record;
  }

  /** Hands a kill to the node that holds the connection: directly when it is this process's, else over pub/sub. */
  private async route(record: SessionRecord, reason: EndReason): Promise<void> {
    const local = this.localNodes.get(record.node);
    if (local) {
      await this.endLocal(local, record.id, reason);
      return;
    }
    const req = randomUUID();
    const replied = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.killTimeoutMs);
      timer.unref();
      this.pendingKills.set(req, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      const receivers = await this.r.publish(this.channel('kill', record.node), JSON.stringify({ id: record.id, reason, reply: this.instance, req }));
      if (receivers > 0) await replied;
    } finally {
      this.pendingKills.delete(req);
    }
  }

  private async endLocal(node: LocalNode, id: string, reason: EndReason): Promise<void> {
    this.stats.routedKills++;
    try {
      await node.kill(id, reason);
    } catch {
      // the node's clean-up failed; the place is released below either way
    }
    await this.release(id).catch(() => undefined);
  }

  private async onMessage(channel: string, message: string): Promise<void> {
    try {
      const m = JSON.parse(message) as { id?: string; reason?: EndReason; reply?: string; req?: string };
      if (channel === this.channel('reply', this.instance)) {
        this.pendingKills.get(m.req ?? '')?.();
        return;
      }
      const nodeId = channel.slice(this.channel('kill', '').length);
      const node = this.localNodes.get(nodeId);
      if (node && m.id) await this.endLocal(node, m.id, m.reason ?? 'killed');
      if (m.reply) await this.r.publish(this.channel('reply', m.reply), JSON.stringify({ req: m.req }));
    } catch (err) {
      this.opts.onError?.('handling a routed kill', err);
    }
  }

  async releaseNode(nodeId: string): Promise<SessionRecord[]> {
    const node = this.localNodes.get(nodeId);
    if (node) {
      this.stopTimers(node);
      this.localNodes.delete(nodeId);
      await this.sub.unsubscribe(this.channel('kill', nodeId)).catch(() => undefined);
      for (const s of [...this.localSessions.values()]) if (s.node === nodeId) this.localSessions.delete(s.id);
    }
    return ((await this.run('mwAccReleaseNode', nodeId)) as string[]).map(decode);
  }

  private stopTimers(node: LocalNode): void {
    if (node.renewTimer) clearInterval(node.renewTimer);
    if (node.fenceTimer) clearTimeout(node.fenceTimer);
  }

  /** Stops renewing; with `leave`, this process's nodes and their sessions are removed first (clean shutdown). */
  async close(opts: { leave?: boolean } = {}): Promise<void> {
    if (opts.leave) for (const id of [...this.localNodes.keys()]) await this.releaseNode(id).catch(() => undefined);
    this.closed = true;
    for (const node of this.localNodes.values()) this.stopTimers(node);
    this.sub.disconnect();
  }
}

const copy = (s: SessionRecord): SessionRecord => ({ ...s, openedAt: new Date(s.openedAt), lastActivity: new Date(s.lastActivity), objects: { ...s.objects } });
