import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { openThreadedStore } from '../store/sqlite/threaded/threaded-store.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import type { Store } from '../store/store.js';
import { InProcessChangeBus, type ChangeBus } from '../store/change-bus.js';
import { StoreError } from '../store/errors.js';
import { LiveSettings, mailboxQuotaLimit } from '../settings/resolve.js';
import { EventLog } from '../events/event-log.js';
import { SessionGovernor } from '../governor/governor.js';
import { InProcessAccounting } from '../governor/in-process-accounting.js';
import { ConnectionLimits } from '../access/connection-limits.js';
import { BruteForceGuard, type GuardPolicy } from '../access/brute-force-guard.js';
import { AccountGuard, type AccountGuardPolicy } from '../access/account-guard.js';
import { InProcessState } from '../shared-state/in-process-state.js';
import { systemClock, type Clock } from '../shared-state/clock.js';
import { CredentialCache } from '../access/credentials.js';
import { ensureTls } from './tls.js';
import { Certificates } from '../tls/certificates.js';
import type { ServerContext } from './context.js';
import { defaultConfig, type ServerConfig } from './config.js';
import { Metrics } from '../observability/metrics.js';
import { createLog, logLevel, type Log } from '../observability/log.js';
import { exposeGovernorReadings, instrumentStore } from './instrument.js';
import { connectRedis, keyPrefix } from '../cluster/redis-connection.js';
import { RedisAccounting } from '../cluster/redis-accounting.js';
import { RedisChangeBus } from '../cluster/redis-change-bus.js';
import { RedisState } from '../cluster/redis-state.js';
import { RedisBroadcast } from '../cluster/redis-broadcast.js';
import type { SessionAccounting } from '../governor/accounting.js';
import type { SharedState } from '../shared-state/shared-state.js';

export const STORE_FILE = 'mailwarden.sqlite';

/** Creates (if needed) and checks the data folder; a one-line StoreError says what is wrong. */
export function prepareDataDir(dataDir: string, create: boolean): string {
  const dir = resolve(dataDir);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new StoreError('invalid', `data folder ${dir} is not a folder`);
  } else if (create) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw new StoreError('read-only', `cannot create data folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else {
    throw new StoreError('not-found', `no data folder at ${dir} (run "mailwarden serve --data ${dataDir}" once, or pass --data)`);
  }
  try {
    accessSync(dir, constants.W_OK | constants.R_OK);
  } catch {
    throw new StoreError('read-only', `data folder ${dir} is not writable by this user`);
  }
  return dir;
}

/** Whether a --store value names a PostgreSQL database (postgres://… or postgresql://…) rather than a data folder. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The PostgreSQL store at `url` (schema created or migrated when needed), with the server's options. */
export async function openPostgresStore(url: string, changes?: ChangeBus, log?: Log, clock?: Clock): Promise<PostgresStore> {
  return PostgresStore.open(url, { changes, quotaLimit: mailboxQuotaLimit, ...(clock ? { clock } : {}), ...(log ? { onBackgroundError: (what: string, err: unknown) => log.error({ err }, `store: ${what}`) } : {}) });
}

/**
 * The store a CLI command (or `store copy`) names: a PostgreSQL URL, or a data folder's SQLite
 * file (created when `create` is set).
 */
export async function openStoreAt(location: string, create: boolean): Promise<Store> {
  return isPostgresUrl(location) ? openPostgresStore(location) : openDataStore(location, create);
}

/** Opens the store of a data folder, creating both when `create` is set. */
export async function openDataStore(dataDir: string, create: boolean, changes?: ChangeBus, log?: Log, clock?: Clock): Promise<SqliteStore> {
  const dir = prepareDataDir(dataDir, create);
  const file = join(dir, STORE_FILE);
  if (!create && !existsSync(file)) throw new StoreError('not-found', `no Mailwarden store in ${dir}`);
  return SqliteStore.open(file, { changes, quotaLimit: mailboxQuotaLimit, ...(clock ? { clock } : {}), ...(log ? { onBackgroundError: (what: string, err: unknown) => log.error({ err }, `store: ${what}`) } : {}) });
}

/**
 * The server's store: its SQLite work on a thread of its own (store/sqlite/threaded/), so that
 * no client of the node waits while another one's query runs. MAILWARDEN_STORE_THREAD=0 runs
 * it on the event loop as before (for comparison measurements). The CLI opens SqliteStore
 * directly (openDataStore): one command, nothing to share its event loop with.
 * `clock` (tests: a clock they move) is where the store's save dates come from; a function cannot
 * be posted to the store thread, so with one the SQLite store runs on the event loop.
 */
async function openServerStore(dataDir: string, changes: ChangeBus, log: Log, store?: string, clock?: Clock): Promise<Store> {
  if (store && isPostgresUrl(store)) return openPostgresStore(store, changes, log, clock);
  if (process.env.MAILWARDEN_STORE_THREAD === '0' || clock) return openDataStore(dataDir, true, changes, log, clock);
  const file = join(prepareDataDir(dataDir, true), STORE_FILE);
  return openThreadedStore(file, changes, {
    // the store thread imports this module for the options that are functions (openDataStore's)
    optionsModule: new URL('./store-thread-options.js', import.meta.url).href,
    onBackgroundError: (what, err) => log.error({ err }, `store: ${what}`),
  });
}

/** Everything a running server (or an in-process test server) shares between front ends. */
/**
 * `store`: a PostgreSQL URL to keep mailboxes in (several nodes share it); without it (or from
 * the config's `store`, or MAILWARDEN_STORE) the data folder's SQLite file. The data folder
 * holds this node's own files either way (TLS certificate, admin token, server.json).
 */
export async function createServerContext(dataDir: string, opts: { computer?: string; config?: ServerConfig; clock?: Clock; guardPolicy?: GuardPolicy; accountGuardPolicy?: AccountGuardPolicy; log?: Log; store?: string } = {}): Promise<ServerContext> {
  const clock = opts.clock ?? systemClock;
  const config = opts.config ?? defaultConfig();
  const log = opts.log ?? createLog(logLevel(config.log.level));
  const metrics = new Metrics();
  const cluster = config.cluster?.redis ? await openCluster(config.cluster as ClusterConfig, log) : undefined;
  const changes = cluster?.changes ?? new InProcessChangeBus((err) => log.error({ err }, 'store change listener failed'));
  const store = instrumentStore(await openServerStore(dataDir, changes, log, opts.store ?? config.store ?? process.env.MAILWARDEN_STORE, opts.clock), metrics);
  cluster?.changes.startSafetyCheck((userId) => store.listFolders(userId), config.cluster!.modseqCheckSeconds * 1000);
  const dir = resolve(dataDir);
  const own = await ensureTls(dir);
  const tls = new Certificates({
    own,
    configured: config.tls.certificates.map((c) => ({ certFile: resolve(c.cert), keyFile: resolve(c.key) })),
    pollMs: config.tls.pollSeconds * 1000,
    onError: (message) => log.warn({ problem: message }, 'tls: a certificate did not load; the one before it stays in service'),
    onReload: (loaded) => log.info({ certificates: loaded.map((c) => ({ names: c.names, fingerprint: c.fingerprint256, validTo: c.validTo })) }, 'tls: certificates reloaded'),
  });
  const settings = new LiveSettings(store);
  await settings.refresh();
  const computer = opts.computer ?? config.hostname ?? hostname();
  const state: SharedState = cluster?.state ?? new InProcessState(clock);
  const events = new EventLog(store, computer, { state, clock });
  const accounting: SessionAccounting = cluster?.accounting ?? new InProcessAccounting(clock);
  const governor = new SessionGovernor(accounting, settings, events, { clock, ...(cluster ? { node: `${computer}/${process.pid}/${randomUUID().slice(0, 8)}` } : {}) });
  await governor.attach();
  const connections = {
    pop: new ConnectionLimits('pop3', settings), imap: new ConnectionLimits('imap', settings), owa: new ConnectionLimits('owa', settings),
    ews: new ConnectionLimits('ews', settings), eas: new ConnectionLimits('eas', settings),
  };
  exposeGovernorReadings(metrics, governor, connections);
  const credentials = new CredentialCache(store, settings, clock);
  const bruteForceGuard = new BruteForceGuard(state, events, opts.guardPolicy);
  if (cluster) {
    // a lockout on one node drops the identity's cached credentials on every node
    cluster.broadcast.on('forget-credential', (identity) => credentials.forget(identity));
    bruteForceGuard.onLockout((identity) => cluster.broadcast.send('forget-credential', identity));
  } else bruteForceGuard.onLockout((identity) => credentials.forget(identity));
  const accountGuard = new AccountGuard(state, opts.accountGuardPolicy);
  return {
    store, changes, settings, governor, events, state, clock, connections, metrics, log, credentials, bruteForceGuard, accountGuard,
    tls,
    dataDir: dir,
    computer,
    config,
    ...(cluster ? { cluster: { accounting: cluster.accounting, close: cluster.close } } : {}),
  };
}

type ClusterConfig = NonNullable<ServerConfig['cluster']> & { redis: string };

/** The Redis side of a node of several: one command connection, and the subscriptions each part opens. */
async function openCluster(c: ClusterConfig, log: Log) {
  const redis = connectRedis(c.redis);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis'));
  const prefix = keyPrefix(c.redis);
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${c.redis}: ${(err as Error).message}`);
  }
  const onError = (what: string, err: unknown) => log.warn({ err }, `cluster: ${what}`);
  const accounting = await RedisAccounting.open(redis, { prefix, leaseMs: c.leaseSeconds * 1000, renewMs: c.renewSeconds * 1000, onError });
  const changes = await RedisChangeBus.open(redis, { prefix, onError, onListenerError: (err) => log.error({ err }, 'store change listener failed') });
  const broadcast = await RedisBroadcast.open(redis, prefix, onError);
  const state = new RedisState(redis, prefix, false);
  return {
    accounting, changes, state, broadcast,
    async close() {
      await accounting.close();
      await broadcast.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
