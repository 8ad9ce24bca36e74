import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectionConfig } from '../../src/store/postgres/postgres-store.js';

/**
 * The PostgreSQL server the tests use: 127.0.0.1:5432, trust authentication, the user from the
 * environment (PGUSER, else the login name); MAILWARDEN_TEST_POSTGRES overrides the whole URL
 * of the maintenance database. Every test makes a database of its own and drops it, so that
 * runs (and helpers running at once on one machine) never see each other's data.
 */
export const TEST_POSTGRES = process.env.MAILWARDEN_TEST_POSTGRES ?? 'postgres://127.0.0.1:5432/test';

/** The URL of database `name` on the test server. */
export function postgresUrl(name: string): string {
  const u = new URL(TEST_POSTGRES);
  u.pathname = '/' + name;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(connectionConfig(TEST_POSTGRES));
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new, empty database `mw_test_<random>`; `drop` removes it (closing whatever still uses it). */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `mw_test_${randomBytes(6).toString('hex')}`;
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
