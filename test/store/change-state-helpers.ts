import type Database from 'better-sqlite3';

/**
 * Takes schema step 7 (change-state.ts) and the steps after it (8: the address domain index,
 * 9: the user counter triggers, 11: the save date, 12: the queue's DSN columns, 13: the sort facts, 14: the thread ids; 10 creates its tables
 * only when missing) out of
 * a store file, leaving it as Mailwarden with schema 6 wrote it.
 */
export function undoStep7(db: Database.Database): void {
  undoStep13(db);
  for (const c of ['dsn', 'delay_notified']) db.exec(`ALTER TABLE queue DROP COLUMN ${c}`);
  db.exec('ALTER TABLE messages DROP COLUMN save_date');
  for (const t of ['insert', 'delete', 'move']) db.exec(`DROP TRIGGER user_counts_${t}`);
  db.exec('DROP INDEX addresses_by_domain');
  for (const t of ['message_insert', 'message_update', 'message_delete', 'folder_insert', 'folder_update', 'folder_delete', 'user_delete']) db.exec(`DROP TRIGGER change_${t}`);
  for (const i of ['messages_by_object', 'messages_by_change', 'folders_by_object', 'folders_by_change']) db.exec(`DROP INDEX ${i}`);
  db.exec('DROP TABLE tombstones');
  db.exec('DROP TABLE change_counter');
  for (const c of ['object_id', 'email_id', 'change_state']) db.exec(`ALTER TABLE messages DROP COLUMN ${c}`);
  for (const c of ['object_id', 'change_state']) db.exec(`ALTER TABLE folders DROP COLUMN ${c}`);
  db.exec("DELETE FROM meta WHERE key = 'changes_floor'");
  db.pragma('user_version = 6');
}

/**
 * Takes schema steps 13 (the sort facts) and 14 out of a store file, leaving it as Mailwarden with schema
 * 12 wrote it: no sort_facts columns, the message list's insert trigger of step 6.
 */
export function undoStep13(db: Database.Database): void {
  undoStep14(db);
  db.exec('DROP TRIGGER message_list_insert');
  db.exec('ALTER TABLE message_list DROP COLUMN sort_facts');
  db.exec('ALTER TABLE blobs DROP COLUMN sort_facts');
  db.exec(`CREATE TRIGGER message_list_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_list
      SELECT NEW.folder_id, NEW.internal_date, NEW.uid, NEW.id, NEW.size, NEW.blob_hash,
        b.subject, b.from_text, b.to_text, b.sent_date, b.message_id, b.has_attachments, b.preview
      FROM blobs b WHERE b.hash = NEW.blob_hash;
  END`);
  db.pragma('user_version = 12');
}

/** Takes schema step 14 (the thread ids) out of a store file, leaving it as Mailwarden with schema 13 wrote it. */
export function undoStep14(db: Database.Database): void {
  db.exec('DROP INDEX messages_by_thread_key');
  for (const c of ['thread_id', 'thread_key']) db.exec(`ALTER TABLE messages DROP COLUMN ${c}`);
  db.pragma('user_version = 13');
}
