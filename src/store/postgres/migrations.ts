/**
 * Versioned schema migrations of the PostgreSQL backend, as SQLite's (sqlite/schema.ts): entry
 * i moves the schema from version i to i+1, in one transaction with the bump of
 * `mailwarden_schema.version`, under an advisory lock so that nodes starting together migrate
 * once. The tables and columns are SQLite's (same names, same meaning, times in milliseconds,
 * flags as one space-separated text), so that `mailwarden store copy` moves rows table by table
 * (store/copy.ts); what SQLite does with a counter table PostgreSQL does with a sequence.
 *
 * Triggers keep the folder counters and the tombstones, as SQLite's do: every writer (any node,
 * the CLI, `store copy`) goes through the table and cannot forget them. The conformance suite's
 * sabotages (test/store/conformance/sabotages.ts) break these triggers on purpose.
 */

import type pg from 'pg';
import { encodeSortFacts, storedSortFacts } from '../../mime/sort-facts.js';

/** Marks a PostgreSQL database as a Mailwarden store and holds its schema version. */
export const SCHEMA_TABLE = 'mailwarden_schema';

/** pg_advisory_xact_lock key of migrations and first initialisation ("MWD1", as SQLite's application id). */
export const MIGRATION_LOCK = 0x4d574431;

export const MIGRATIONS: string[] = [
  /* 1: the schema of SQLite's migrations 1-8, in one step */ `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE databases (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE UNIQUE INDEX databases_by_name ON databases (lower(name));
  CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    alias TEXT NOT NULL,
    address TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    database_id BIGINT NOT NULL REFERENCES databases(id),
    is_admin INTEGER NOT NULL DEFAULT 0,
    used_bytes BIGINT NOT NULL DEFAULT 0,
    message_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
  );
  CREATE UNIQUE INDEX users_by_alias ON users (lower(alias));
  CREATE UNIQUE INDEX users_by_address ON users (lower(address));
  -- stored lower-cased (rules.ts normaliseAddress): the primary key is the case-insensitive one
  CREATE TABLE addresses (
    address TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE
  );
  -- Store.isLocalDomain, asked at every SMTP RCPT: queries must use this exact expression (ADDRESS_DOMAIN)
  CREATE INDEX addresses_by_domain ON addresses (split_part(address, '@', 2));
  CREATE TABLE folders (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    special_use TEXT,
    uid_validity BIGINT NOT NULL,
    uid_next BIGINT NOT NULL DEFAULT 1,
    highest_modseq BIGINT NOT NULL DEFAULT 1,
    first_recent_uid BIGINT NOT NULL DEFAULT 1,
    message_count BIGINT NOT NULL DEFAULT 0,
    unseen_count BIGINT NOT NULL DEFAULT 0,
    total_size BIGINT NOT NULL DEFAULT 0,
    object_id BIGINT,
    change_state BIGINT NOT NULL DEFAULT 0,
    UNIQUE (user_id, name)
  );
  CREATE INDEX folders_by_object ON folders (object_id);
  CREATE INDEX folders_by_change ON folders (user_id, change_state);
  CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    structure TEXT,
    subject TEXT NOT NULL DEFAULT '',
    from_text TEXT NOT NULL DEFAULT '',
    to_text TEXT NOT NULL DEFAULT '',
    sent_date BIGINT,
    message_id TEXT,
    has_attachments INTEGER NOT NULL DEFAULT 0,
    preview TEXT NOT NULL DEFAULT ''
  );
  CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    folder_id BIGINT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid BIGINT NOT NULL,
    modseq BIGINT NOT NULL,
    flags TEXT NOT NULL DEFAULT '',
    internal_date BIGINT NOT NULL,
    size BIGINT NOT NULL,
    blob_hash TEXT NOT NULL REFERENCES blobs(hash),
    object_id BIGINT NOT NULL,
    email_id BIGINT NOT NULL,
    change_state BIGINT NOT NULL,
    UNIQUE (folder_id, uid)
  );
  CREATE INDEX messages_by_modseq ON messages (folder_id, modseq);
  CREATE INDEX messages_by_blob ON messages (blob_hash);
  -- the web mail list, newest first: one index range per page (SQLite keeps a table for it)
  CREATE INDEX messages_by_date ON messages (folder_id, internal_date DESC, uid DESC);
  CREATE INDEX messages_by_object ON messages (object_id);
  CREATE INDEX messages_by_change ON messages (folder_id, change_state);
  CREATE TABLE expunged (
    folder_id BIGINT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid BIGINT NOT NULL,
    modseq BIGINT NOT NULL,
    PRIMARY KEY (folder_id, uid)
  );
  CREATE TABLE subscriptions (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
  );
  CREATE TABLE settings (
    scope TEXT NOT NULL CHECK (scope IN ('server', 'database', 'user')),
    target_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, target_id, name)
  );
  CREATE TABLE events (
    record_id BIGSERIAL PRIMARY KEY,
    time BIGINT NOT NULL,
    provider TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    qualifiers INTEGER NOT NULL,
    level INTEGER NOT NULL,
    task INTEGER NOT NULL,
    keywords TEXT NOT NULL,
    computer TEXT NOT NULL,
    "user" TEXT,
    data TEXT NOT NULL,
    message TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 1
  );
  CREATE INDEX events_by_id ON events (event_id, time);
  CREATE TABLE queue (
    id BIGSERIAL PRIMARY KEY,
    sender TEXT NOT NULL,
    recipients TEXT NOT NULL,
    blob_hash TEXT NOT NULL REFERENCES blobs(hash),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    submitted_by BIGINT
  );
  CREATE INDEX queue_by_due ON queue (next_attempt);
  -- Destroyed messages and folders per user (SQLite's change-state.ts says why they outlive their folder).
  CREATE TABLE tombstones (
    user_id BIGINT NOT NULL,
    state BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('message', 'folder')),
    object_id BIGINT NOT NULL,
    folder_id BIGINT NOT NULL,
    time BIGINT NOT NULL,
    PRIMARY KEY (user_id, state)
  );
  -- The account change states and object ids (SQLite: change_counter). Taken only while the
  -- user's row is locked (postgres-store.ts lockUsers), so each user's states commit in order.
  CREATE SEQUENCE change_state_seq;

  -- 1 for a message without \\Seen in its flags text
  CREATE FUNCTION mw_unseen(flags TEXT) RETURNS INTEGER LANGUAGE sql IMMUTABLE AS
    $$ SELECT CASE WHEN position(' \\Seen ' IN ' ' || flags || ' ') = 0 THEN 1 ELSE 0 END $$;

  -- per-folder counters (SQLite migration 5)
  CREATE FUNCTION mw_folder_counts() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
      UPDATE folders SET message_count = message_count - 1, total_size = total_size - OLD.size,
        unseen_count = unseen_count - mw_unseen(OLD.flags) WHERE id = OLD.folder_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
      UPDATE folders SET message_count = message_count + 1, total_size = total_size + NEW.size,
        unseen_count = unseen_count + mw_unseen(NEW.flags) WHERE id = NEW.folder_id;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER folder_counts_insert AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION mw_folder_counts();
  CREATE TRIGGER folder_counts_delete AFTER DELETE ON messages FOR EACH ROW EXECUTE FUNCTION mw_folder_counts();
  CREATE TRIGGER folder_counts_update AFTER UPDATE OF folder_id, size, flags ON messages FOR EACH ROW
    WHEN (OLD.folder_id <> NEW.folder_id OR OLD.size <> NEW.size OR mw_unseen(OLD.flags) <> mw_unseen(NEW.flags))
    EXECUTE FUNCTION mw_folder_counts();

  -- tombstones of destroyed messages and folders (SQLite migration 7)
  CREATE FUNCTION mw_message_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO tombstones (user_id, state, kind, object_id, folder_id, time)
      SELECT f.user_id, nextval('change_state_seq'), 'message', OLD.object_id, f.object_id, extract(epoch FROM now())::BIGINT
      FROM folders f WHERE f.id = OLD.folder_id;
    RETURN NULL;
  END $$;
  CREATE TRIGGER change_message_delete AFTER DELETE ON messages FOR EACH ROW EXECUTE FUNCTION mw_message_tombstone();
  CREATE FUNCTION mw_folder_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO tombstones (user_id, state, kind, object_id, folder_id, time)
      VALUES (OLD.user_id, nextval('change_state_seq'), 'folder', OLD.object_id, OLD.object_id, extract(epoch FROM now())::BIGINT);
    RETURN NULL;
  END $$;
  CREATE TRIGGER change_folder_delete AFTER DELETE ON folders FOR EACH ROW EXECUTE FUNCTION mw_folder_tombstone();

  -- Drops the blobs no message or queue entry holds. A blob another transaction has just
  -- referenced (it locked the row in putBlob, then committed its message) makes the DELETE fail
  -- its foreign key check: that blob is in use and stays, the caller's write goes on.
  CREATE FUNCTION mw_drop_blobs(hashes TEXT[]) RETURNS void LANGUAGE plpgsql AS $$
  DECLARE h TEXT;
  BEGIN
    FOREACH h IN ARRAY hashes LOOP
      BEGIN
        DELETE FROM blobs WHERE hash = h
          AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = h) AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_hash = h);
      EXCEPTION WHEN foreign_key_violation THEN NULL;
      END;
    END LOOP;
  END $$;
  `,
  /*
   * 2: the outbound queue across nodes: an entry handed to a node (Store.dueQueueEntries) is
   * leased to it until `leased_until` (ms); other nodes skip it until then, and take it over
   * when the node died without finishing it.
   */ `
  ALTER TABLE queue ADD COLUMN leased_until BIGINT;
  ALTER TABLE queue ADD COLUMN leased_by TEXT;
  `,
  /* 3: mobile devices (ActiveSync partnerships) and their named state, as SQLite's migration 10 */ `
  CREATE TABLE mobile_devices (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    device_type TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    friendly_name TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    policy_key BIGINT NOT NULL DEFAULT 0,
    first_sync_at BIGINT NOT NULL,
    last_sync_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
  );
  CREATE TABLE mobile_device_state (
    user_id BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, name),
    FOREIGN KEY (user_id, device_id) REFERENCES mobile_devices(user_id, device_id) ON DELETE CASCADE
  );
  `,
  /* 4: the save date (IMAP SAVEDATE), as SQLite's migration 11 (which says why earlier rows stay NULL) */ `
  ALTER TABLE messages ADD COLUMN save_date BIGINT;
  `,
  /* 5: RFC 3461 parameters of a queued message and its "delayed" DSN, as SQLite's migration 12 */ `
  ALTER TABLE queue ADD COLUMN dsn TEXT;
  ALTER TABLE queue ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
  `,
  /*
   * 6: what SORT and THREAD compare, kept with the bytes, as SQLite's step 13 (which says why);
   * rows stored before are filled in from their bytes by AFTER_MIGRATION[6], in the same transaction.
   */ `
  ALTER TABLE blobs ADD COLUMN sort_facts TEXT;
  `,
  /* 7: RFC 8474 THREADID and its Message-ID key, as SQLite's step 14 (which says why rows stored before are each their own thread) */ `
  ALTER TABLE messages ADD COLUMN thread_id BIGINT;
  ALTER TABLE messages ADD COLUMN thread_key TEXT;
  UPDATE messages m SET thread_id = m.email_id, thread_key = f.user_id || ' ' || (b.sort_facts::json ->> 8)
    FROM folders f, blobs b WHERE f.id = m.folder_id AND b.hash = m.blob_hash;
  CREATE INDEX messages_by_thread_key ON messages (thread_key) WHERE thread_key IS NOT NULL;
  `,
];

/** Blobs per round of a backfill: whole messages, so a small batch. */
const BACKFILL_BATCH = 500;

/**
 * What a migration needs done in code after its SQL (in its transaction), by the version it
 * reaches: SQL cannot parse a message header.
 */
export const AFTER_MIGRATION: Partial<Record<number, (c: pg.ClientBase) => Promise<void>>> = {
  6: async (c) => {
    for (let after = ''; ;) {
      const rows = (await c.query({ text: 'SELECT hash, data FROM blobs WHERE hash > $1 ORDER BY hash LIMIT $2', values: [after, BACKFILL_BATCH], rowMode: 'array' })).rows as Array<[string, Buffer]>;
      if (rows.length === 0) return;
      await c.query('UPDATE blobs SET sort_facts = u.facts FROM unnest($1::TEXT[], $2::TEXT[]) AS u(hash, facts) WHERE blobs.hash = u.hash', [
        rows.map((r) => r[0]), rows.map((r) => encodeSortFacts(storedSortFacts(r[1]))),
      ]);
      after = rows[rows.length - 1]![0];
    }
  },
};

/** The domain of a stored address, as the index addresses_by_domain has it. */
export const ADDRESS_DOMAIN = "split_part(address, '@', 2)";
