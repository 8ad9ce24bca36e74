import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectionConfig } from '../../src/store/postgres/postgres-store.js';

/**
 * The PostgreSQL server the tests use: 127.0.0.1:5432, trust authentication, the user from the
 * environment (PGUSER, else the login name); MAILWARDEN_TEST_POSTGRES overrides the whole URL
 * of the maintenance database. Every test makes a database of its own and drops it, so that
 * runs (and helpers running at once on one machine) never see each other's data. What a killed
 * run leaves behind is swept by the next one, after an hour (sweepTestDatabases).
 */
export const TEST_POSTGRES = process.env.MAILWARDEN_TEST_POSTGRES ?? 'postgres://127.0.0.1:5432/test';

/** The URL of database `name` on the test server. */
export function postgresUrl(name: string): string {
  const u = new URL(TEST_POSTGRES);
  u.pathname = '/' + name;
  return u.toString();
}

/** `fn` on a connection to the maintenance database (CREATE/DROP DATABASE), closed after. */
export async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(connectionConfig(TEST_POSTGRES));
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * How old a test run's leftovers must be before a sweep removes them. Test files run for
 * minutes; a run an hour old is dead (killed, crashed) or not ours to wait for. Parallel runs
 * (other worktrees, CI) are younger and never touched.
 */
export const STALE_AFTER_MS = 3_600_000;

/** `mw_test_<epoch seconds>_<random>`: the name says when it was made, so a sweep needs no other record. */
const TEST_DATABASE = /^mw_test_(\d{10,})_[0-9a-f]+$/;

export function testDatabaseName(createdAtMs: number): string {
  return `mw_test_${Math.floor(createdAtMs / 1000)}_${randomBytes(6).toString('hex')}`;
}

/**
 * Drops the test databases made more than STALE_AFTER_MS before `now`: what a killed run left
 * (its `drop` never ran). Names without a time (made before names carried one) are left alone:
 * their age is unknown. Returns the names dropped. A database another process drops at the same
 * moment is no error.
 */
export async function sweepTestDatabases(now = Date.now()): Promise<string[]> {
  return admin(async (c) => {
    const names = (await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'mw\\_test\\_%'")).rows.map((r) => r.datname as string);
    const stale = names.filter((n) => {
      const m = TEST_DATABASE.exec(n);
      return m !== null && now - Number(m[1]) * 1000 > STALE_AFTER_MS;
    });
    const dropped: string[] = [];
    for (const name of stale) {
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        dropped.push(name);
      } catch {
        // dropped or being dropped by another run's sweep: nothing left to do here
      }
    }
    return dropped;
  });
}

/** Once per test process, before its first database: the leftovers of killed runs go. */
let swept: Promise<unknown> | null = null;

/** A new, empty database `mw_test_<epoch seconds>_<random>`; `drop` removes it (closing whatever still uses it). */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  await (swept ??= sweepTestDatabases().catch(() => undefined));
  const name = testDatabaseName(Date.now());
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    url: postgresUrl(name),
    name,
    drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/**
 * The store of a protocol test's server: with MAILWARDEN_TEST_STORE=postgres a database of its
 * own (the protocol suites then run on PostgreSQL), otherwise none (the data folder's SQLite).
 */
export async function testStoreLocation(): Promise<{ store?: string; drop(): Promise<void> }> {
  if (process.env.MAILWARDEN_TEST_STORE !== 'postgres') return { drop: async () => undefined };
  const db = await createTestDatabase();
  return { store: db.url, drop: () => db.drop() };
}
