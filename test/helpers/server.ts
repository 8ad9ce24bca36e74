import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import type { User } from '../../src/store/types.js';
import { tempDir } from './tmp.js';
import { testStoreLocation } from './postgres.js';
import type { Clock } from '../../src/shared-state/clock.js';
import type { GuardPolicy } from '../../src/access/brute-force-guard.js';
import type { AccountGuardPolicy } from '../../src/access/account-guard.js';
import { captureLog, type CapturedLog } from './log-capture.js';
import type { LogLevel } from '../../src/observability/log.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  port(name: string): number;
  addUser(address: string, password?: string): Promise<User>;
  setSetting(name: string, value: string, scope?: { userId?: number; databaseId?: number }): Promise<void>;
  close(): Promise<void>;
  /** What the server logged (kept in memory instead of going to the test run's standard error). */
  logged: CapturedLog;
}

/** The whole server on port 0 everywhere, on a temporary data folder. */
export async function startTestServer(opts: { plaintext?: boolean; host?: string; clock?: Clock; guardPolicy?: GuardPolicy; accountGuardPolicy?: AccountGuardPolicy; logLevel?: LogLevel } = {}): Promise<TestServer> {
  const tmp = tempDir();
  const dataDir = join(tmp.dir, 'data');
  const logged = captureLog(opts.logLevel ?? 'info');
  const where = await testStoreLocation();
  const server = await startServer({
    dataDir,
    store: where.store,
    host: opts.host ?? '127.0.0.1',
    clock: opts.clock,
    guardPolicy: opts.guardPolicy,
    accountGuardPolicy: opts.accountGuardPolicy,
    ports: { imap: 0, imaps: 0, pop3: 0, pop3s: 0, smtp: 0, submission: 0, submissions: 0, http: 0, lmtp: 0 },
    log: logged.log,
  });
  const t: TestServer = {
    ...server,
    dataDir,
    logged,
    port(name: string) {
      const l = server.listeners.find((x) => x.name === name);
      if (!l) throw new Error(`no listener ${name}`);
      return l.port;
    },
    addUser: (address, password = 'secret-pw') => server.ctx.store.createUser({ address, password }),
    async setSetting(name, value, scope = {}) {
      const s = scope.userId !== undefined ? { scope: 'user' as const, targetId: scope.userId } : scope.databaseId !== undefined ? { scope: 'database' as const, targetId: scope.databaseId } : { scope: 'server' as const, targetId: 0 };
      await server.ctx.store.putSetting({ ...s, name, value });
      await server.ctx.settings.refresh();
    },
    async close() {
      await server.stop();
      await where.drop();
      tmp.cleanup();
    },
  };
  if (opts.plaintext) {
    await t.setSetting('PopSettings.LoginType', 'PlainTextLogin');
    await t.setSetting('ImapSettings.LoginType', 'PlainTextLogin');
  }
  return t;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long a wait gives up after: a bound on how long a broken test hangs, never a deadline for a slow machine. */
export const GIVE_UP_MS = 120_000;

/**
 * Polls until fn() is truthy (real servers settle asynchronously after a socket closes).
 * `timeoutMs` only bounds how long a broken test hangs: generous, so a loaded machine never fails a test.
 * `eventually(fn, 'what')` gives up after GIVE_UP_MS; pass a shorter bound for nothing that merely takes time.
 */
export async function eventually<T>(fn: () => Promise<T> | T, what?: string): Promise<T>;
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs: number, what?: string): Promise<T>;
export async function eventually<T>(fn: () => Promise<T> | T, timeoutOrWhat: number | string = GIVE_UP_MS, what = 'condition'): Promise<T> {
  if (typeof timeoutOrWhat === 'string') return eventually(fn, GIVE_UP_MS, timeoutOrWhat);
  const end = Date.now() + timeoutOrWhat;
  let last: T;
  do {
    last = await fn();
    if (last) return last;
    await sleep(20);
  } while (Date.now() < end);
  throw new Error(`timed out waiting for ${what}`);
}
