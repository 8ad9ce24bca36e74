/**
 * Several Mailwarden nodes on this machine: separate processes (`mailwarden serve --redis …`)
 * and one Redis key prefix of their own, the store either one data folder's SQLite (the SQLite
 * store takes several processes on one file) or a fresh PostgreSQL database `mw_test_*` (each
 * node then has a data folder of its own for its node files, as stateless nodes would).
 * A node can be stopped cleanly or killed with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openStoreAt } from '../../src/server/create-context.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase } from './postgres.js';
import { tempDir } from './tmp.js';
import { REDIS_URL, dropPrefix, testRedis, uniquePrefix } from './redis.js';
import { RedisAccounting } from '../../src/cluster/redis-accounting.js';
import type { Redis } from 'ioredis';

const MAIN = resolve('dist/src/cli/main.js');

export interface ClusterNode {
  name: string;
  proc: ChildProcess;
  ports: Record<string, number>;
  /** What the node wrote on standard error (its log), for failure messages. */
  stderr(): string;
  exited: Promise<number | null>;
}

export type ClusterStore = 'sqlite' | 'postgres';

export interface TestCluster {
  /** Where the store is: the shared data folder (SQLite) or the database's URL (PostgreSQL). */
  storeLocation: string;
  storeKind: ClusterStore;
  dataDir: string;
  prefix: string;
  redisUrl: string;
  nodes: ClusterNode[];
  /** The cluster's accounting as an outside observer (no node attached): counts and nodes of the whole cluster. */
  accounting: RedisAccounting;
  redis: Redis;
  /** The cluster's store opened from outside the nodes (close it after use). */
  openStore(): Promise<Store>;
  addUser(address: string, password?: string): Promise<number>;
  start(name: string): Promise<ClusterNode>;
  close(): Promise<void>;
}

export interface ClusterConfig {
  leaseSeconds?: number;
  renewSeconds?: number;
  modseqCheckSeconds?: number;
  trustedProxies?: string[];
  /** The store of every node: the shared SQLite data folder (default) or a fresh PostgreSQL database. */
  store?: ClusterStore;
}

export async function startCluster(count: number, cfg: ClusterConfig = {}): Promise<TestCluster> {
  const tmp = tempDir('mailwarden-cluster-');
  const dataDir = join(tmp.dir, 'data');
  const prefix = uniquePrefix('cluster');
  const redisUrl = `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`;
  const configFile = join(tmp.dir, 'config.json');
  const storeKind: ClusterStore = cfg.store ?? 'sqlite';
  const database = storeKind === 'postgres' ? await createTestDatabase() : null;
  const storeLocation = database?.url ?? dataDir;
  const openStore = () => openStoreAt(storeLocation, true);
  writeFileSync(configFile, JSON.stringify({
    cluster: { leaseSeconds: cfg.leaseSeconds ?? 6, renewSeconds: cfg.renewSeconds ?? 1, modseqCheckSeconds: cfg.modseqCheckSeconds ?? 2 },
    ...(cfg.trustedProxies ? { proxyProtocol: { trusted: cfg.trustedProxies } } : {}),
    log: { level: 'warn' },
  }));
  // the store and its settings before any node: plain-text logons for the line clients
  const store = await openStore();
  for (const name of ['ImapSettings.LoginType', 'PopSettings.LoginType']) await store.putSetting({ scope: 'server', targetId: 0, name, value: 'PlainTextLogin' });
  // 64 logons at once on a machine at load 30 can take over a minute to be answered: not a pre-auth timeout
  for (const name of ['ImapSettings.PreAuthenticatedConnectionTimeout', 'PopSettings.PreAuthenticatedConnectionTimeout']) await store.putSetting({ scope: 'server', targetId: 0, name, value: '900' });
  await store.close();
  const redis = testRedis();
  const accounting = await RedisAccounting.open(redis, { prefix });
  const nodes: ClusterNode[] = [];

  const start = async (name: string): Promise<ClusterNode> => {
    // on PostgreSQL each node has a folder of its own (its TLS certificate, its start lock)
    const nodeDir = database ? join(tmp.dir, `node-${name}`) : dataDir;
    const args = [MAIN, 'serve', '--data', nodeDir, '--config', configFile, '--redis', redisUrl, '--host', '127.0.0.1'];
    if (database) args.push('--store', database.url);
    for (const p of ['imap', 'imaps', 'pop3', 'pop3s', 'smtp', 'submission', 'submissions', 'lmtp', 'http']) args.push(`--${p}-port`, '0');
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILWARDEN_LOG_LEVEL: 'warn' } });
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => {
      err = (err + c.toString('utf8')).slice(-20_000);
    });
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    const ports: Record<string, number> = {};
    await new Promise<void>((res, rej) => {
      let out = '';
      proc.stdout!.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        for (const m of out.matchAll(/^\s+(\S+)\s+[\d.]+:(\d+)/gm)) ports[m[1]!] = Number(m[2]);
        if (out.includes('Stop with Ctrl-C.')) res();
      });
      void exited.then((code) => rej(new Error(`node ${name} exited (${code}) before serving: ${err.slice(-2000)}`)));
    });
    const node: ClusterNode = { name, proc, ports, stderr: () => err, exited };
    nodes.push(node);
    return node;
  };
  for (let i = 0; i < count; i++) await start(String.fromCharCode(97 + i));

  return {
    storeLocation, storeKind, dataDir, prefix, redisUrl, nodes, accounting, redis, start, openStore,
    async addUser(address, password = 'secret-pw') {
      const s = await openStore();
      try {
        return (await s.createUser({ address, password })).id;
      } finally {
        await s.close();
      }
    },
    async close() {
      if (process.env.MAILWARDEN_CLUSTER_DEBUG) for (const n of nodes) console.error(`--- node ${n.name} (exit ${n.proc.exitCode ?? n.proc.signalCode ?? 'running'}) ---\n${n.stderr().slice(-4000)}`);
      for (const n of nodes) {
        if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGTERM');
      }
      await Promise.all(nodes.map((n) => n.exited));
      await accounting.close();
      await dropPrefix(redis, prefix);
      await redis.quit();
      await database?.drop();
      tmp.cleanup();
    },
  };
}
