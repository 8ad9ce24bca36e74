/**
 * Versioned schema migrations. Each entry moves the schema from version i to i+1 and runs
 * in one transaction with the bump of `PRAGMA user_version`, so a crash mid-migration leaves
 * the previous version intact.
 */
import { CHANGE_STATE_MIGRATION } from './change-state.js';

export const APPLICATION_ID = 0x4d574431; // "MWD1": marks a file as a Mailwarden store

/** The SQL function (of the message bytes) that step 13 fills in the sort facts of older rows with. */
export const SORT_FACTS_FUNCTION = 'mw_sort_facts';

export const MIGRATIONS: string[] = [
  /* 1: initial schema */ `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE databases (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    alias TEXT NOT NULL UNIQUE COLLATE NOCASE,
    address TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    database_id INTEGER NOT NULL REFERENCES databases(id),
    is_admin INTEGER NOT NULL DEFAULT 0,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    message_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE addresses (
    address TEXT PRIMARY KEY COLLATE NOCASE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE
  );
  CREATE TABLE folders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    special_use TEXT,
    uid_validity INTEGER NOT NULL,
    uid_next INTEGER NOT NULL DEFAULT 1,
    highest_modseq INTEGER NOT NULL DEFAULT 1,
    subscribed INTEGER NOT NULL DEFAULT 1,
    UNIQUE (user_id, name)
  );
  CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    structure TEXT,
    subject TEXT NOT NULL DEFAULT '',
    from_text TEXT NOT NULL DEFAULT '',
    to_text TEXT NOT NULL DEFAULT '',
    sent_date INTEGER,
    message_id TEXT,
    has_attachments INTEGER NOT NULL DEFAULT 0,
    preview TEXT NOT NULL DEFAULT ''
  );
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    flags TEXT NOT NULL DEFAULT '',
    internal_date INTEGER NOT NULL,
    size INTEGER NOT NULL,
    blob_hash TEXT NOT NULL REFERENCES blobs(hash),
    UNIQUE (folder_id, uid)
  );
  CREATE INDEX messages_by_modseq ON messages (folder_id, modseq);
  CREATE INDEX messages_by_blob ON messages (blob_hash);
  CREATE TABLE expunged (
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uid)
  ) WITHOUT ROWID;
  CREATE TABLE settings (
    scope TEXT NOT NULL CHECK (scope IN ('server', 'database', 'user')),
    target_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, target_id, name)
  ) WITHOUT ROWID;
  CREATE TABLE events (
    record_id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    provider TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    qualifiers INTEGER NOT NULL,
    level INTEGER NOT NULL,
    task INTEGER NOT NULL,
    keywords TEXT NOT NULL,
    computer TEXT NOT NULL,
    user TEXT,
    data TEXT NOT NULL,
    message TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 1
  );
  CREATE INDEX events_by_id ON events (event_id, time);
  CREATE TABLE queue (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    recipients TEXT NOT NULL,
    blob_hash TEXT NOT NULL REFERENCES blobs(hash),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    submitted_by INTEGER
  );
  `,
  /* 2: the web mail list pages newest first without sorting the whole folder */ `
  CREATE INDEX messages_by_date ON messages (folder_id, internal_date DESC, uid DESC);
  `,
  /*
   * 3: IMAP \Recent (RFC 3501 2.3.2): messages with UID >= first_recent_uid have not yet been
   * seen by a session that selected the folder. Existing messages count as seen already.
   */ `
  ALTER TABLE folders ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;
  UPDATE folders SET first_recent_uid = uid_next;
  `,
  /* 4: a subscription is a name that outlives its mailbox (RFC 3501 6.3.9), not a folder column */ `
  CREATE TABLE subscriptions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
  ) WITHOUT ROWID;
  INSERT INTO subscriptions (user_id, name) SELECT user_id, name FROM folders WHERE subscribed = 1;
  ALTER TABLE folders DROP COLUMN subscribed;
  `,
  /*
   * 5: per-folder counters (messages, unseen, bytes), so STATUS and the web mail folder tree
   * read one row instead of scanning the folder (what Dovecot keeps in its index header).
   * Triggers keep them, not the code paths that write messages: every writer — the main
   * connection, the writer thread, a future one — goes through the table, and a counter
   * updated in the same statement's transaction can never drift from the rows it counts.
   * A flag change that does not touch \Seen costs nothing (WHEN clause).
   */ `
  ALTER TABLE folders ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE folders ADD COLUMN unseen_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE folders ADD COLUMN total_size INTEGER NOT NULL DEFAULT 0;
  UPDATE folders SET
    message_count = (SELECT count(*) FROM messages WHERE folder_id = folders.id),
    unseen_count = (SELECT count(*) FROM messages WHERE folder_id = folders.id AND instr(' ' || flags || ' ', ' \\Seen ') = 0),
    total_size = (SELECT coalesce(sum(size), 0) FROM messages WHERE folder_id = folders.id);
  CREATE TRIGGER folder_counts_insert AFTER INSERT ON messages BEGIN
    UPDATE folders SET message_count = message_count + 1, total_size = total_size + NEW.size,
      unseen_count = unseen_count + (instr(' ' || NEW.flags || ' ', ' \\Seen ') = 0)
    WHERE id = NEW.folder_id;
  END;
  CREATE TRIGGER folder_counts_delete AFTER DELETE ON messages BEGIN
    UPDATE folders SET message_count = message_count - 1, total_size = total_size - OLD.size,
      unseen_count = unseen_count - (instr(' ' || OLD.flags || ' ', ' \\Seen ') = 0)
    WHERE id = OLD.folder_id;
  END;
  CREATE TRIGGER folder_counts_move AFTER UPDATE OF folder_id, size ON messages
  WHEN OLD.folder_id <> NEW.folder_id OR OLD.size <> NEW.size
  BEGIN
    UPDATE folders SET message_count = message_count - 1, total_size = total_size - OLD.size,
      unseen_count = unseen_count - (instr(' ' || OLD.flags || ' ', ' \\Seen ') = 0)
    WHERE id = OLD.folder_id;
    UPDATE folders SET message_count = message_count + 1, total_size = total_size + NEW.size,
      unseen_count = unseen_count + (instr(' ' || NEW.flags || ' ', ' \\Seen ') = 0)
    WHERE id = NEW.folder_id;
  END;
  CREATE TRIGGER folder_counts_seen AFTER UPDATE OF flags ON messages
  WHEN OLD.folder_id = NEW.folder_id AND OLD.size = NEW.size
    AND (instr(' ' || OLD.flags || ' ', ' \\Seen ') = 0) <> (instr(' ' || NEW.flags || ' ', ' \\Seen ') = 0)
  BEGIN
    UPDATE folders SET unseen_count = unseen_count + (instr(' ' || NEW.flags || ' ', ' \\Seen ') = 0) - (instr(' ' || OLD.flags || ' ', ' \\Seen ') = 0)
    WHERE id = NEW.folder_id;
  END;
  `,
  /*
   * 6: the message list's facts, stored in list order. A web mail page (100 rows, newest first)
   * was a walk of the date index, 100 lookups of `messages` and 100 of `blobs` by hash: some
   * 300 scattered pages, all read again whenever another connection (the writer thread,
   * another process) has written, because SQLite then drops the reader's page cache. Here a
   * page is one range of a few adjacent b-tree pages, joined by rowid to `messages` for the
   * flags (the newest messages' rows are adjacent too). Measured on 10,000 messages right after
   * a write: 1.1 ms instead of 3.3 ms to build a page. Flags and MODSEQ are deliberately not
   * copied here: rewriting these wide rows on every flag change made STORE 3-4x slower.
   * Triggers keep it, as the folder counters: every writer of `messages` keeps it without
   * knowing. It replaces the date index of migration 2.
   */ `
  CREATE TABLE message_list (
    folder_id INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    blob_hash TEXT NOT NULL,
    subject TEXT NOT NULL,
    from_text TEXT NOT NULL,
    to_text TEXT NOT NULL,
    sent_date INTEGER,
    message_id TEXT,
    has_attachments INTEGER NOT NULL,
    preview TEXT NOT NULL,
    PRIMARY KEY (folder_id, internal_date DESC, uid DESC)
  ) WITHOUT ROWID;
  INSERT INTO message_list
    SELECT m.folder_id, m.internal_date, m.uid, m.id, m.size, m.blob_hash,
      b.subject, b.from_text, b.to_text, b.sent_date, b.message_id, b.has_attachments, b.preview
    FROM messages m JOIN blobs b ON b.hash = m.blob_hash;
  CREATE TRIGGER message_list_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_list
      SELECT NEW.folder_id, NEW.internal_date, NEW.uid, NEW.id, NEW.size, NEW.blob_hash,
        b.subject, b.from_text, b.to_text, b.sent_date, b.message_id, b.has_attachments, b.preview
      FROM blobs b WHERE b.hash = NEW.blob_hash;
  END;
  CREATE TRIGGER message_list_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_list WHERE folder_id = OLD.folder_id AND internal_date = OLD.internal_date AND uid = OLD.uid;
  END;
  CREATE TRIGGER message_list_move AFTER UPDATE OF folder_id, uid, internal_date, size ON messages
  WHEN OLD.folder_id <> NEW.folder_id OR OLD.internal_date <> NEW.internal_date OR OLD.uid <> NEW.uid OR OLD.size <> NEW.size BEGIN
    UPDATE message_list SET folder_id = NEW.folder_id, internal_date = NEW.internal_date, uid = NEW.uid, size = NEW.size
    WHERE folder_id = OLD.folder_id AND internal_date = OLD.internal_date AND uid = OLD.uid;
  END;
  DROP INDEX messages_by_date;
  `,
  /* 7: the account change state, stable object ids and tombstones (change-state.ts) */
  CHANGE_STATE_MIGRATION,
  /* 8: addresses by domain (Store.isLocalDomain, asked at every SMTP RCPT): the expression is ADDRESS_DOMAIN's */
  `CREATE INDEX IF NOT EXISTS addresses_by_domain ON addresses (substr(address, instr(address, '@') + 1));`,
  /*
   * 9: the user counters (quota usage: bytes and messages) kept by triggers, as the folder
   * counters of migration 5 and the message list of migration 6 are: one mechanism for one kind
   * of invariant ("a counter equals a recount of the rows it counts"). Until now code kept them
   * (every path that inserted or deleted a message row updated `users` itself: the insert, the
   * expunge/remove/move, the folder delete), so a new writer of `messages` had to know; here the
   * table keeps them whoever writes it, in the same transaction. Triggers rather than code for
   * all three because the store has several writers of `messages` (the store's connection, the
   * writer thread's, a CLI process) and the triggers are the one place they all pass; and
   * rather than deriving the usage from the folder counters (a sum per quota check) because the
   * quota check inside every delivery reads one row. Cost: one more row update per message
   * inserted or deleted, the same the code did per insert (measured in bench/RESULTS.md).
   * The recount first: a store whose counters drifted (they could, being kept by hand) starts right.
   */ `
  UPDATE users SET
    message_count = (SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = users.id),
    used_bytes = (SELECT coalesce(sum(m.size), 0) FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.user_id = users.id);
  CREATE TRIGGER user_counts_insert AFTER INSERT ON messages BEGIN
    UPDATE users SET message_count = message_count + 1, used_bytes = used_bytes + NEW.size
    WHERE id = (SELECT user_id FROM folders WHERE id = NEW.folder_id);
  END;
  CREATE TRIGGER user_counts_delete AFTER DELETE ON messages BEGIN
    UPDATE users SET message_count = message_count - 1, used_bytes = used_bytes - OLD.size
    WHERE id = (SELECT user_id FROM folders WHERE id = OLD.folder_id);
  END;
  CREATE TRIGGER user_counts_move AFTER UPDATE OF folder_id, size ON messages
  WHEN OLD.folder_id <> NEW.folder_id OR OLD.size <> NEW.size
  BEGIN
    UPDATE users SET message_count = message_count - 1, used_bytes = used_bytes - OLD.size
    WHERE id = (SELECT user_id FROM folders WHERE id = OLD.folder_id);
    UPDATE users SET message_count = message_count + 1, used_bytes = used_bytes + NEW.size
    WHERE id = (SELECT user_id FROM folders WHERE id = NEW.folder_id);
  END;
  `,
  /* 10: mobile devices (ActiveSync partnerships) and their named state (Store.upsertDevice, putDeviceState) */ `
  CREATE TABLE IF NOT EXISTS mobile_devices (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    device_type TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    friendly_name TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    policy_key INTEGER NOT NULL DEFAULT 0,
    first_sync_at INTEGER NOT NULL,
    last_sync_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
  );
  CREATE TABLE IF NOT EXISTS mobile_device_state (
    user_id INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, name),
    FOREIGN KEY (user_id, device_id) REFERENCES mobile_devices(user_id, device_id) ON DELETE CASCADE
  );
  `,
  /*
   * 11: the save date (IMAP SAVEDATE, RFC 8514): when the message was saved into its folder
   * (APPEND, delivery, COPY, MOVE), in ms. Rows from before are NULL ("unknown": FETCH answers
   * NIL), not their internal date: an APPEND may set any internal date (an import keeps the
   * original ones), so taking it would make years-old mail look saved years ago, and a client
   * that expunges Trash by save date (SAVEDBEFORE) would delete what was moved there yesterday.
   */ `
  ALTER TABLE messages ADD COLUMN save_date INTEGER;
  `,
  /*
   * 12: RFC 3461 parameters of a queued message (JSON of QueueDsn, NULL: none given) and whether
   * its "delayed" DSN went out, so that a retry follows what the client asked for.
   */ `
  ALTER TABLE queue ADD COLUMN dsn TEXT;
  ALTER TABLE queue ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
  `,
  /*
   * 13: what SORT and THREAD compare (mime/sort-facts.ts: base subject, first From/To/Cc,
   * display names, Message-ID, References), as encodeSortFacts text, computed when the bytes are
   * stored. Before, the first SORT of a folder after a server start read and parsed every
   * message's bytes (100,000 messages: 24 s, Dovecot 10 s); now it reads these rows. Kept in the
   * blob (one per content) and copied into the message list by its insert trigger: a folder's
   * facts are then a read of its list rows, which are small and adjacent. Rows stored before are
   * filled in here, from their bytes, by ${SORT_FACTS_FUNCTION} (open.ts registers it on the
   * connection that migrates), in this step's transaction.
   */ `
  ALTER TABLE blobs ADD COLUMN sort_facts TEXT;
  UPDATE blobs SET sort_facts = ${SORT_FACTS_FUNCTION}(data);
  ALTER TABLE message_list ADD COLUMN sort_facts TEXT;
  UPDATE message_list SET sort_facts = (SELECT b.sort_facts FROM blobs b WHERE b.hash = message_list.blob_hash);
  DROP TRIGGER message_list_insert;
  CREATE TRIGGER message_list_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_list
      SELECT NEW.folder_id, NEW.internal_date, NEW.uid, NEW.id, NEW.size, NEW.blob_hash,
        b.subject, b.from_text, b.to_text, b.sent_date, b.message_id, b.has_attachments, b.preview, b.sort_facts
      FROM blobs b WHERE b.hash = NEW.blob_hash;
  END;
  `,
  /*
   * 14: RFC 8474 THREADID (store/threads.ts says how a thread is chosen) and the key it is looked
   * up by, "<user id> <Message-ID>". Rows stored before become each its own thread, with its
   * email's number (a message and its copies share one): grouping them by References after the
   * fact would be a second threading algorithm here; new mail joins them by Message-ID from now on,
   * as their keys are filled in from step 13's facts.
   */ `
  ALTER TABLE messages ADD COLUMN thread_id INTEGER;
  ALTER TABLE messages ADD COLUMN thread_key TEXT;
  UPDATE messages SET thread_id = email_id,
    thread_key = (SELECT f.user_id || ' ' || json_extract(b.sort_facts, '$[8]') FROM folders f, blobs b WHERE f.id = messages.folder_id AND b.hash = messages.blob_hash);
  CREATE INDEX messages_by_thread_key ON messages (thread_key) WHERE thread_key IS NOT NULL;
  `,
];

/** The domain of a stored address, as the index of migration 8 has it: queries must use this exact text. */
export const ADDRESS_DOMAIN = "substr(address, instr(address, '@') + 1)";
