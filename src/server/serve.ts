import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServerContext, prepareDataDir } from './create-context.js';
import { loadConfig } from './config.js';
import type { Listener, ListenerOptions } from './listener.js';
import type { ServerContext } from './context.js';
import type { Clock } from '../shared-state/clock.js';
import type { GuardPolicy } from '../access/brute-force-guard.js';
import type { AccountGuardPolicy } from '../access/account-guard.js';
import { startPop3Server } from '../protocols/pop3/server.js';
import { startHttpServer, type HttpPlugin } from '../web/http-server.js';
import { AcmeCertificates } from '../tls/acme.js';
import { VERSION } from '../version.js';
import { frontEnds } from './front-ends.js';
import { acquireStartLock } from './start-lock.js';
import { adminTokenFile, readRunningServer, serverInfoFile, type RunningServerInfo } from './running.js';
import type { Log } from '../observability/log.js';

export interface ServeOptions {
  dataDir: string;
  /** A postgres://… URL: mailboxes there instead of the data folder (createServerContext). */
  store?: string;
  configFile?: string;
  /** redis://… : this node is one of several (overrides cluster.redis of the config file). */
  redis?: string;
  host: string;
  /** Tests: a manual clock for windows and TTLs, a quicker brute-force guard. */
  clock?: Clock;
  guardPolicy?: GuardPolicy;
  accountGuardPolicy?: AccountGuardPolicy;
  ports: {
    imap: number; imaps: number; pop3: number; pop3s: number; smtp: number; submission: number; submissions: number; http: number;
    /** LMTP (RFC 2033) for a mail server in front; not started when left out. */
    lmtp?: number;
  };
  /** The structured log; by default pino on standard error at the configured level. */
  log?: Log;
}

/** Unprivileged defaults so that the quick start runs without root. */
export const DEFAULT_PORTS: ServeOptions['ports'] = {
  imap: 1143, imaps: 1993, pop3: 1110, pop3s: 1995, smtp: 2525, submission: 1587, submissions: 1465, http: 8443, lmtp: 2424,
};

function ensureAdminToken(dataDir: string): string {
  const file = adminTokenFile(dataDir);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

export interface RunningServer {
  ctx: ServerContext;
  listeners: Listener[];
  /** Certificates from an ACME CA, when the configuration asks for them. */
  acme: AcmeCertificates | null;
  stop(): Promise<void>;
}

/** How often this node tells the session accounting it is alive. */
const NODE_HEARTBEAT_MS = 10_000;

/** How soon a setting changed by another process reaches open sessions. */
const SETTINGS_POLL_MS = 1000;

/** Starts every listener on one data folder. Port 0 picks a free port; the result says which. */
export async function startServer(opts: ServeOptions, extraHttpPlugins: HttpPlugin[] = []): Promise<RunningServer> {
  const dataDir = prepareDataDir(opts.dataDir, true);
  const config = loadConfig(opts.configFile);
  if (opts.redis) config.cluster = { leaseSeconds: 30, renewSeconds: 10, modseqCheckSeconds: 10, ...config.cluster, redis: opts.redis };
  const clustered = Boolean(config.cluster?.redis);
  // The start lock (start-lock.ts) is released by the kernel when the process dies. Nodes of a
  // cluster may share a data folder (the SQLite store takes several processes): the first one
  // holds the lock and writes server.json (where the CLI finds an admin API; every node's API
  // sees every node); the others start without it.
  const lock = acquireStartLock(dataDir);
  const running = lock ? null : readRunningServer(dataDir);
  if (!lock && !clustered) {
    throw new Error(`a Mailwarden server${running ? ` (pid ${running.pid})` : ''} is already running on ${dataDir}`);
  }
  let ctx: ServerContext;
  try {
    ctx = await createServerContext(dataDir, { store: opts.store, config, clock: opts.clock, guardPolicy: opts.guardPolicy, accountGuardPolicy: opts.accountGuardPolicy, log: opts.log });
  } catch (err) {
    lock?.release();
    throw err;
  }
  const adminToken = ensureAdminToken(dataDir);
  const listeners: Listener[] = [];
  const stopHooks: Array<() => Promise<void>> = [];
  const at = (port: number, implicitTls: boolean): ListenerOptions => ({ host: opts.host, port, implicitTls, ...(config.proxyProtocol ? { proxy: config.proxyProtocol } : {}) });
  try {
    listeners.push(await startPop3Server(ctx, at(opts.ports.pop3, false)));
    listeners.push(await startPop3Server(ctx, at(opts.ports.pop3s, true)));
    const fe = await frontEnds(ctx, opts, at);
    listeners.push(...fe.listeners);
    stopHooks.push(...fe.stopHooks);
    listeners.push(await startHttpServer(ctx, { ...at(opts.ports.http, true), adminToken, plugins: [...fe.httpPlugins, ...extraHttpPlugins] }));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close().catch(() => undefined)));
    await ctx.store.close();
    lock?.release();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') throw new Error(`cannot listen on ${opts.host}: ${e.message} (choose another port with the --*-port options)`);
    throw err;
  }
  const http = listeners.find((l) => l.name === 'https')!;
  const info: RunningServerInfo = {
    pid: process.pid, host: opts.host, httpPort: http.port,
    listeners: listeners.map((l) => ({ name: l.name, host: l.host, port: l.port, implicitTls: l.implicitTls })),
  };
  let acmeCertificates: AcmeCertificates | null = null;
  if (config.acme) {
    acmeCertificates = new AcmeCertificates(dataDir, { ...config.acme, httpHost: config.acme.httpHost ?? opts.host }, ctx.tls, {
      now: () => ctx.clock.now(),
      onIssued: (cert, renewal) => ctx.log.info({ names: cert.names, fingerprint: cert.fingerprint256, validTo: cert.validTo }, renewal ? 'acme: certificate renewed' : 'acme: certificate obtained'),
      onError: (message, err) => ctx.log.error({ err }, message),
    });
    await acmeCertificates.start();
    const a = acmeCertificates;
    stopHooks.push(() => a.stop());
  }
  const stopWatchingSettings = ctx.settings.watch(SETTINGS_POLL_MS);
  stopHooks.push(async () => stopWatchingSettings());
  const stopHeartbeat = ctx.governor.startHeartbeat(NODE_HEARTBEAT_MS);
  stopHooks.push(async () => stopHeartbeat());
  const ownsInfoFile = !running;
  if (ownsInfoFile) writeFileSync(serverInfoFile(dataDir), JSON.stringify(info, null, 2) + '\n');
  await ctx.events.write('serverStarted', [VERSION, ctx.computer, listeners.map((l) => `${l.name} ${l.host}:${l.port}`).join(', ')]);
  ctx.log.info({ version: VERSION, dataDir, listeners: info.listeners.map((l) => `${l.name} ${l.host}:${l.port}`) }, 'server started');
  let stopped = false;
  return {
    ctx,
    listeners,
    acme: acmeCertificates,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const h of stopHooks) await h().catch(() => undefined);
      await Promise.all(listeners.map((l) => l.close().catch(() => undefined)));
      const released = await ctx.governor.closeAll();
      await ctx.governor.accounting.releaseNode(ctx.governor.node).catch(() => undefined);
      await ctx.events.write('serverStopped', [released]).catch(() => undefined);
      ctx.log.info({ sessionsReleased: released }, 'server stopped');
      ctx.log.flush();
      if (ownsInfoFile) rmSync(serverInfoFile(dataDir), { force: true });
      ctx.tls.close();
      await ctx.store.close();
      await ctx.changes.close();
      await ctx.state.close();
      await ctx.cluster?.close();
      lock?.release();
    },
  };
}
