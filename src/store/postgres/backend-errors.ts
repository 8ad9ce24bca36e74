import { StoreError, type StoreErrorKind } from '../errors.js';

/**
 * PostgreSQL SQLSTATEs (the pg driver puts them on `err.code`) and socket errors as StoreError
 * kinds: the store's callers see kinds only (store.ts). Checked in this order, first prefix wins.
 */
const KINDS: Array<[prefix: string, kind: StoreErrorKind, text: string]> = [
  ['23505', 'exists', 'exists already (written by another session meanwhile)'],
  ['23503', 'not-found', 'refers to something that no longer exists'],
  ['23', 'invalid', 'breaks a rule of the store'],
  ['22', 'invalid', 'is not a value the store takes'],
  ['54', 'invalid', 'is too big for the store'],
  // serialization failure and deadlock: the transaction was rolled back, the same call may succeed
  ['40', 'unavailable', 'the store is busy; try again'],
  ['55P03', 'unavailable', 'the store is busy; try again'],
  ['25006', 'read-only', 'the store is read-only'],
  ['42501', 'read-only', 'the store may not be written by this database user'],
  ['42P01', 'not-a-mailwarden-database', 'the database lacks a Mailwarden table'],
  ['XX001', 'corrupt', 'the database is damaged'],
  ['XX002', 'corrupt', 'the database is damaged'],
  // connection lost or refused, server shutting down or restarting, out of resources: none is
  // the caller's fault, and the same call may succeed once PostgreSQL is back
  ['08', 'unavailable', 'the store cannot be reached'],
  ['57', 'unavailable', 'the store is restarting'],
  ['53', 'unavailable', 'the store is out of resources'],
  ['3D000', 'unavailable', 'the store database does not exist'],
  ['E', 'unavailable', 'the store cannot be reached'], // ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, ...
];

/** pg's own errors of a dead connection carry no code, only these words. */
const CONNECTION_LOST = /Connection terminated|connection timeout|Client has encountered a connection error|not queryable|timeout exceeded when trying to connect/i;

/** A StoreError for a PostgreSQL or connection failure; anything else (a bug) stays as it is. */
export function toStoreError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = String((err as Error | null)?.message ?? '');
  let hit = typeof code === 'string' ? KINDS.find(([prefix]) => code.startsWith(prefix)) : undefined;
  if (!hit && CONNECTION_LOST.test(message)) hit = ['', 'unavailable', 'the store connection was lost'];
  if (!hit) return err;
  const e = new StoreError(hit[1], `${hit[2]} (${typeof code === 'string' ? code + ': ' : ''}${message})`);
  (e as { cause?: unknown }).cause = err;
  return e;
}

/** Failures worth running the whole transaction again for: serialization failure, deadlock. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}
