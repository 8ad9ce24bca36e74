/**
 * Ways to break a backend's invariants on purpose, per backend (sabotage.test.ts shows that the
 * invariant check catches each). Each is SQL run on the storage through the inspector before
 * the store is used: mostly a trigger dropped or added, so that the store's own writes then
 * break the invariant the way a bug in the backend would.
 */
export interface Sabotage {
  name: string;
  sql: string;
  /** The invariant (InvariantViolation.invariant) the check must report. */
  breaks: string;
}

export const SABOTAGES: Record<string, Sabotage[]> = {
  SQLite: [
    {
      name: 'drop the folder counter trigger of inserts',
      sql: 'DROP TRIGGER folder_counts_insert',
      breaks: 'folder counters equal a recount',
    },
    {
      name: 'drop the unseen counter trigger of flag changes',
      sql: 'DROP TRIGGER folder_counts_seen',
      breaks: 'folder counters equal a recount',
    },
    {
      name: 'drop the user counter trigger of deletes',
      sql: 'DROP TRIGGER user_counts_delete',
      breaks: 'user counters equal a recount',
    },
    {
      name: "count every new message twice in its user's counter",
      sql: `CREATE TRIGGER sabotage AFTER INSERT ON messages BEGIN
              UPDATE users SET message_count = message_count + 1 WHERE id = (SELECT user_id FROM folders WHERE id = NEW.folder_id);
            END`,
      breaks: 'user counters equal a recount',
    },
    {
      name: 'corrupt message_list order (a new row gets a wrong date)',
      sql: `CREATE TRIGGER sabotage AFTER INSERT ON message_list BEGIN
              UPDATE message_list SET internal_date = 0 WHERE folder_id = NEW.folder_id AND internal_date = NEW.internal_date AND uid = NEW.uid;
            END`,
      breaks: 'message list order equals the order it replaces',
    },
    {
      name: 'reuse a MODSEQ (a flag change keeps the old one)',
      sql: `CREATE TRIGGER sabotage AFTER UPDATE OF flags ON messages BEGIN
              UPDATE messages SET modseq = OLD.modseq WHERE id = NEW.id;
            END`,
      breaks: 'MODSEQ strictly increasing per folder',
    },
    {
      name: 'HIGHESTMODSEQ left behind the messages',
      sql: `CREATE TRIGGER sabotage AFTER UPDATE OF highest_modseq ON folders WHEN NEW.highest_modseq > OLD.highest_modseq BEGIN
              UPDATE folders SET highest_modseq = OLD.highest_modseq WHERE id = NEW.id;
            END`,
      breaks: 'MODSEQ at most HIGHESTMODSEQ',
    },
    {
      name: 'UIDNEXT not advanced (a UID given again)',
      sql: `CREATE TRIGGER sabotage AFTER UPDATE OF uid_next ON folders WHEN NEW.uid_next > OLD.uid_next BEGIN
              UPDATE folders SET uid_next = OLD.uid_next WHERE id = NEW.id;
            END`,
      breaks: 'UIDs below UIDNEXT',
    },
    {
      name: 'delete every new tombstone',
      sql: `CREATE TRIGGER sabotage AFTER INSERT ON tombstones BEGIN
              DELETE FROM tombstones WHERE user_id = NEW.user_id AND state = NEW.state;
            END`,
      breaks: 'tombstones present for removed messages',
    },
    {
      name: "lose QRESYNC's expunge records",
      sql: `CREATE TRIGGER sabotage AFTER INSERT ON expunged BEGIN
              DELETE FROM expunged WHERE folder_id = NEW.folder_id AND uid = NEW.uid;
            END`,
      breaks: 'tombstones present for removed messages',
    },
  ],
  // The same breakages on PostgreSQL's triggers and tables (migrations.ts); a trigger needs a function there.
  PostgreSQL: [
    {
      name: 'drop the folder counter trigger of inserts',
      sql: 'DROP TRIGGER folder_counts_insert ON messages',
      breaks: 'folder counters equal a recount',
    },
    {
      name: 'drop the unseen counter trigger of flag changes',
      sql: 'DROP TRIGGER folder_counts_update ON messages',
      breaks: 'folder counters equal a recount',
    },
    {
      name: "count every new message twice in its user's counter",
      sql: `CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
              UPDATE users SET message_count = message_count + 1 WHERE id = (SELECT user_id FROM folders WHERE id = NEW.folder_id);
              RETURN NULL; END $$;
            CREATE TRIGGER sabotage AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION sabotage()`,
      breaks: 'user counters equal a recount',
    },
    {
      name: 'reuse a MODSEQ (a flag change keeps the old one)',
      sql: `CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
              UPDATE messages SET modseq = OLD.modseq WHERE id = NEW.id; RETURN NULL; END $$;
            CREATE TRIGGER sabotage AFTER UPDATE OF flags ON messages FOR EACH ROW EXECUTE FUNCTION sabotage()`,
      breaks: 'MODSEQ strictly increasing per folder',
    },
    {
      name: 'HIGHESTMODSEQ left behind the messages',
      sql: `CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
              UPDATE folders SET highest_modseq = OLD.highest_modseq WHERE id = NEW.id; RETURN NULL; END $$;
            CREATE TRIGGER sabotage AFTER UPDATE OF highest_modseq ON folders FOR EACH ROW
              WHEN (NEW.highest_modseq > OLD.highest_modseq) EXECUTE FUNCTION sabotage()`,
      breaks: 'MODSEQ at most HIGHESTMODSEQ',
    },
    {
      name: 'UIDNEXT not advanced (a UID given again)',
      sql: `CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
              UPDATE folders SET uid_next = OLD.uid_next WHERE id = NEW.id; RETURN NULL; END $$;
            CREATE TRIGGER sabotage AFTER UPDATE OF uid_next ON folders FOR EACH ROW
              WHEN (NEW.uid_next > OLD.uid_next) EXECUTE FUNCTION sabotage()`,
      breaks: 'UIDs below UIDNEXT',
    },
    {
      name: 'delete every new tombstone',
      sql: `CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
              DELETE FROM tombstones WHERE user_id = NEW.user_id AND state = NEW.state; RETURN NULL; END $$;
            CREATE TRIGGER sabotage AFTER INSERT ON tombstones FOR EACH ROW EXECUTE FUNCTION sabotage()`,
      breaks: 'tombstones present for removed messages',
    },
    {
      name: "lose QRESYNC's expunge records",
      sql: `CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
              DELETE FROM expunged WHERE folder_id = NEW.folder_id AND uid = NEW.uid; RETURN NULL; END $$;
            CREATE TRIGGER sabotage AFTER INSERT ON expunged FOR EACH ROW EXECUTE FUNCTION sabotage()`,
      breaks: 'tombstones present for removed messages',
    },
  ],
};
// The store thread's configuration keeps the same SQLite storage: its breakages are SQLite's.
SABOTAGES['SQLite (store thread group commit)'] = SABOTAGES.SQLite!;


export function sabotageNamed(backend: string, name: string): Sabotage {
  const s = (SABOTAGES[backend] ?? []).find((x) => x.name === name);
  if (!s) throw new Error(`no sabotage "${name}" for ${backend}`);
  return s;
}
