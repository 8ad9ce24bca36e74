import { StoreError, type StoreErrorKind } from '../errors.js';
import { typedErrorsOnly as typedErrorsOnlyWith } from '../typed-errors.js';

/**
 * SQLite result codes (better-sqlite3 puts the extended code on `err.code`) as StoreError kinds:
 * the store's callers see kinds only (store.ts), never a driver's error. Checked in this order,
 * first prefix wins.
 */
const KINDS: Array<[prefix: string, kind: StoreErrorKind, text: string]> = [
  ['SQLITE_CONSTRAINT_UNIQUE', 'exists', 'exists already (written by another session meanwhile)'],
  ['SQLITE_CONSTRAINT_PRIMARYKEY', 'exists', 'exists already (written by another session meanwhile)'],
  ['SQLITE_CONSTRAINT_FOREIGNKEY', 'not-found', 'refers to something that no longer exists'],
  ['SQLITE_CONSTRAINT', 'invalid', 'breaks a rule of the store'],
  ['SQLITE_TOOBIG', 'invalid', 'is too big for the store'],
  ['SQLITE_BUSY', 'unavailable', 'the store is busy; try again'],
  ['SQLITE_LOCKED', 'unavailable', 'the store is busy; try again'],
  ['SQLITE_CORRUPT', 'corrupt', 'the store file is damaged'],
  ['SQLITE_NOTADB', 'corrupt', 'the store file is not a database'],
  ['SQLITE_FORMAT', 'corrupt', 'the store file is damaged'],
  ['SQLITE_READONLY', 'read-only', 'the store is read-only'],
  ['SQLITE_CANTOPEN', 'read-only', 'the store file cannot be opened'],
  ['SQLITE_PERM', 'read-only', 'the store file may not be written'],
  ['SQLITE_AUTH', 'read-only', 'the store file may not be written'],
  // disk full, I/O error, out of memory, interrupted, schema changed under a statement, ...:
  // none is the caller's fault, and the same call may succeed later
  ['SQLITE_', 'unavailable', 'the store cannot answer now'],
];

/** A StoreError for a backend failure; anything that is not a SQLite error (a bug) stays as it is. */
export function toStoreError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return err;
  const hit = KINDS.find(([prefix]) => code.startsWith(prefix));
  if (!hit) return err;
  // an unexpected code keeps the driver's words: someone will have to read them
  const detail = hit[0] === 'SQLITE_' ? `${code}: ${(err as Error).message}` : code;
  const e = new StoreError(hit[1], `${hit[2]} (${detail})`);
  (e as { cause?: unknown }).cause = err;
  return e;
}

/** Makes every asynchronous method of a backend class answer failures through toStoreError (typed-errors.ts). */
export function typedErrorsOnly(proto: object): void {
  typedErrorsOnlyWith(proto, toStoreError);
}
