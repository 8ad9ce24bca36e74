/**
 * The account-level change state of the SQLite backend: one store-wide counter that every
 * change to a folder or message bumps (so each user sees strictly increasing states), the
 * state of each object's last change, and tombstones of destroyed messages and folders.
 * SQLite triggers keep all of it, as they keep the folder counters (migrations 5 and 6): the
 * store's connection, the writer thread and another process all write through the tables, so
 * none of them can forget, and the state moves in the same transaction as the change.
 *
 * Why one counter for the whole store rather than one per user: an object's id is the state
 * at which it was created, which then is unique store-wide (a lookup by id is one index probe
 * whatever the user), and "created since S" is `id > S`. A user's current state is the newest
 * of their objects' and tombstones' states, read on demand (a few index probes) rather than
 * written by every change (one more row write per message changed).
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { toObjectId } from '../object-ids.js';
import { changeLimit, mergeChanges, parseSinceState, TOMBSTONE_DAYS, type ChangeEntry as Entry, type ChangeScope as Scope } from '../change-history.js';
import type { AccountChanges } from '../types.js';

/** How long tombstones are kept (change-history.ts says why). */
export { TOMBSTONE_DAYS };

/** Schema step 7 (schema.ts lists it): the account change state, stable object ids, tombstones. */
export const CHANGE_STATE_MIGRATION = `
  CREATE TABLE change_counter (id INTEGER PRIMARY KEY CHECK (id = 1), state INTEGER NOT NULL);
  -- existing objects keep their rowids as ids: the counter starts above every one of them
  INSERT INTO change_counter (id, state) VALUES (1, max(coalesce((SELECT max(id) FROM messages), 0), coalesce((SELECT max(id) FROM folders), 0)) + 1);
  ALTER TABLE messages ADD COLUMN object_id INTEGER;
  ALTER TABLE messages ADD COLUMN email_id INTEGER;
  ALTER TABLE messages ADD COLUMN change_state INTEGER NOT NULL DEFAULT 0;
  UPDATE messages SET object_id = id, email_id = id;
  ALTER TABLE folders ADD COLUMN object_id INTEGER;
  ALTER TABLE folders ADD COLUMN change_state INTEGER NOT NULL DEFAULT 0;
  UPDATE folders SET object_id = id;
  CREATE INDEX messages_by_object ON messages (object_id);
  CREATE INDEX messages_by_change ON messages (folder_id, change_state);
  CREATE INDEX folders_by_object ON folders (object_id);
  CREATE INDEX folders_by_change ON folders (user_id, change_state);
  -- states below this cannot be answered (tombstones before it are pruned, or it predates step 7)
  INSERT OR REPLACE INTO meta (key, value) VALUES ('changes_floor', (SELECT state FROM change_counter));
  -- Destroyed messages and folders, per user, outliving their folder (QRESYNC's expunged rows
  -- go with the folder: a deleted mailbox cannot be selected, but an account sync must hear of
  -- every message it held). folder_id is the folder's object id.
  CREATE TABLE tombstones (
    user_id INTEGER NOT NULL,
    state INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('message', 'folder')),
    object_id INTEGER NOT NULL,
    folder_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    PRIMARY KEY (user_id, state)
  ) WITHOUT ROWID;
  -- A new message gets the new state as its id, unless the writer carries one over (MOVE keeps
  -- the message id, COPY the email id: see object-ids.ts). MessageWrites.insertMessage sets all
  -- three in its INSERT (not a second write of each new row); this covers a
  -- writer that does not.
  CREATE TRIGGER change_message_insert AFTER INSERT ON messages WHEN NEW.change_state = 0 BEGIN
    UPDATE change_counter SET state = state + 1;
    UPDATE messages SET change_state = (SELECT state FROM change_counter),
      object_id = coalesce(NEW.object_id, (SELECT state FROM change_counter)),
      email_id = coalesce(NEW.email_id, NEW.object_id, (SELECT state FROM change_counter))
    WHERE id = NEW.id;
  END;
  -- A writer may set change_state itself in the same UPDATE (takeChangeStates: storeFlags does,
  -- as the row's second write here costs the most in bulk); one that does not is covered here.
  CREATE TRIGGER change_message_update AFTER UPDATE OF flags, folder_id, uid ON messages WHEN NEW.change_state = OLD.change_state BEGIN
    UPDATE change_counter SET state = state + 1;
    UPDATE messages SET change_state = (SELECT state FROM change_counter) WHERE id = NEW.id;
  END;
  CREATE TRIGGER change_message_delete AFTER DELETE ON messages BEGIN
    UPDATE change_counter SET state = state + 1;
    INSERT INTO tombstones (user_id, state, kind, object_id, folder_id, time)
      SELECT f.user_id, c.state, 'message', OLD.object_id, f.object_id, unixepoch() FROM folders f, change_counter c WHERE f.id = OLD.folder_id;
  END;
  CREATE TRIGGER change_folder_insert AFTER INSERT ON folders BEGIN
    UPDATE change_counter SET state = state + 1;
    UPDATE folders SET change_state = (SELECT state FROM change_counter), object_id = coalesce(NEW.object_id, (SELECT state FROM change_counter))
    WHERE id = NEW.id;
  END;
  CREATE TRIGGER change_folder_update AFTER UPDATE OF name, special_use ON folders BEGIN
    UPDATE change_counter SET state = state + 1;
    UPDATE folders SET change_state = (SELECT state FROM change_counter) WHERE id = NEW.id;
  END;
  CREATE TRIGGER change_folder_delete AFTER DELETE ON folders BEGIN
    UPDATE change_counter SET state = state + 1;
    INSERT INTO tombstones (user_id, state, kind, object_id, folder_id, time)
      SELECT u.id, c.state, 'folder', OLD.object_id, OLD.object_id, unixepoch() FROM users u, change_counter c WHERE u.id = OLD.user_id;
  END;
  CREATE TRIGGER change_user_delete AFTER DELETE ON users BEGIN
    DELETE FROM tombstones WHERE user_id = OLD.id;
  END;
`;

type Query = (sql: string) => Database.Statement;

/** `n` new states, the first returned, for changes the caller writes in its own UPDATEs (inside its transaction). */
export function takeChangeStates(q: Query, n: number): number {
  return (q('UPDATE change_counter SET state = state + ? RETURNING state').pluck().get(n) as number) - n + 1;
}

/** The state a client starts from: the user's last change (never below the floor: see changesSince). */
export function currentState(q: Query, userId: number): string {
  return toObjectId('state', userState(q, userId));
}

/**
 * The newest state of the user's folders, messages (one index probe per folder) and tombstones.
 * A user whose last change is older than the floor gets the floor: nothing of theirs changed
 * between, so the answers from there are complete.
 */
function userState(q: Query, userId: number): number {
  const r = q(
    `SELECT (SELECT max(change_state) FROM folders WHERE user_id = u.id) AS f,
       (SELECT max((SELECT max(change_state) FROM messages WHERE folder_id = fo.id)) FROM folders fo WHERE fo.user_id = u.id) AS m,
       (SELECT max(state) FROM tombstones WHERE user_id = u.id) AS t,
       (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'changes_floor') AS floor
     FROM users u WHERE u.id = ?`,
  ).get(userId) as { f: number | null; m: number | null; t: number | null; floor: number } | undefined;
  if (!r) throw new StoreError('not-found', `no user with id ${userId}`);
  return Math.max(r.f ?? 0, r.m ?? 0, r.t ?? 0, r.floor);
}

/** Drops tombstones older than `before` and raises the floor of answerable states past them. */
export function pruneTombstones(db: Database.Database, q: Query, before: Date): number {
  return db.transaction(() => {
    const cutoff = Math.floor(before.getTime() / 1000);
    const newest = q('SELECT max(state) FROM tombstones WHERE time < ?').pluck().get(cutoff) as number | null;
    if (newest === null) return 0;
    q("UPDATE meta SET value = max(CAST(value AS INTEGER), ?) WHERE key = 'changes_floor'").run(newest);
    return q('DELETE FROM tombstones WHERE time < ?').run(cutoff).changes;
  }).immediate();
}

const liveRows = (rows: Array<{ o: number; s: number }>, type: Entry['type']): Entry[] => rows.map((r) => ({ type, live: true, ...r }));

/** The whole account: messages and folders; a move is an update, a tombstone counts once the object is gone everywhere. */
function accountScope(q: Query, p: { user: number; since: number; limit: number }): Scope {
  const messageExists = q('SELECT 1 FROM messages m JOIN folders f ON f.id = m.folder_id WHERE m.object_id = ? AND f.user_id = ?').pluck();
  const folderExists = q('SELECT 1 FROM folders WHERE object_id = ? AND user_id = ?').pluck();
  return {
    sources: [
      liveRows(q(`SELECT m.object_id AS o, m.change_state AS s FROM folders f JOIN messages m ON m.folder_id = f.id AND m.change_state > @since
          WHERE f.user_id = @user ORDER BY m.change_state LIMIT @limit`).all(p) as Array<{ o: number; s: number }>, 'message'),
      liveRows(q('SELECT object_id AS o, change_state AS s FROM folders WHERE user_id = @user AND change_state > @since ORDER BY change_state LIMIT @limit')
        .all(p) as Array<{ o: number; s: number }>, 'folder'),
      (q('SELECT kind AS type, object_id AS o, state AS s FROM tombstones WHERE user_id = @user AND state > @since ORDER BY state LIMIT @limit')
        .all(p) as Array<{ type: Entry['type']; o: number; s: number }>).map((r) => ({ ...r, live: false })),
    ],
    isNew: (e) => e.o > p.since,
    isGone: (e) => !(e.type === 'message' ? messageExists : folderExists).get(e.o, p.user),
  };
}

/**
 * One folder's messages (EWS SyncFolderItems, an ActiveSync collection): a message moved in is
 * created here, one moved out is destroyed here (its tombstone names the folder it left). A
 * message that left after `since` and came back is reported as created (the history does not
 * say whether it was here at `since`).
 */
function folderScope(q: Query, p: { user: number; since: number; limit: number }, folderId: number): Scope {
  const fo = q('SELECT object_id FROM folders WHERE id = ? AND user_id = ?').pluck().get(folderId, p.user) as number | undefined;
  if (fo === undefined) throw new StoreError('not-found', 'no such folder');
  const fp = { ...p, folder: folderId, fo };
  const movedHere = new Set(q("SELECT object_id FROM tombstones WHERE user_id = @user AND state > @since AND kind = 'message' AND folder_id <> @fo").pluck().all(fp) as number[]);
  const here = q('SELECT 1 FROM messages WHERE object_id = ? AND folder_id = ?').pluck();
  return {
    sources: [
      liveRows(q('SELECT object_id AS o, change_state AS s FROM messages WHERE folder_id = @folder AND change_state > @since ORDER BY change_state LIMIT @limit')
        .all(fp) as Array<{ o: number; s: number }>, 'message'),
      (q("SELECT object_id AS o, state AS s FROM tombstones WHERE user_id = @user AND state > @since AND kind = 'message' AND folder_id = @fo ORDER BY state LIMIT @limit")
        .all(fp) as Array<{ o: number; s: number }>).map((r) => ({ type: 'message', live: false, ...r })),
    ],
    isNew: (e) => e.o > p.since || movedHere.has(e.o),
    isGone: (e) => !here.get(e.o, folderId),
  };
}

/**
 * What changed in a user's account (or, with `folderId`, in one folder) after `sinceState`,
 * oldest change first, at most `maxChanges` ids. See Store.changesSince for the meaning; one
 * read transaction, so the answer and its newState are one snapshot even while the writer
 * thread commits.
 */
export function changesSince(db: Database.Database, q: Query, userId: number, sinceState: string, maxChanges: number, folderId?: number): AccountChanges {
  return db.transaction((): AccountChanges => {
    const current = userState(q, userId);
    const floor = Number(q("SELECT value FROM meta WHERE key = 'changes_floor'").pluck().get());
    const since = parseSinceState(sinceState, current, floor);
    const p = { user: userId, since, limit: changeLimit(maxChanges) };
    const scope = folderId === undefined ? accountScope(q, p) : folderScope(q, p, folderId);
    return mergeChanges(sinceState, since, current, maxChanges, scope);
  })();
}
