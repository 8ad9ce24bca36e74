/**
 * What the PostgreSQL backend promises besides the conformance suite (which runs on it too):
 * several nodes (stores with pools of their own) on one database. UIDs become visible in UID
 * order under concurrent appends; an outbound queue entry is worked by one node at a time and
 * a dead node's entries are taken over; the schema is versioned and a foreign database refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { connectionConfig, PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { MIGRATIONS } from '../../../src/store/postgres/migrations.js';
import { factsOf } from '../../../src/mime/sort-facts.js';
import { StoreError } from '../../../src/store/errors.js';
import { createTestDatabase } from '../../helpers/postgres.js';

const message = (i: number) => Buffer.from(`From: a@example.org\r\nSubject: m${i}\r\nMessage-ID: <${i}.${Math.random()}@t>\r\n\r\nbody ${i}\r\n`);

async function withDatabase(fn: (url: string) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  try {
    await fn(db.url);
  } finally {
    await db.drop();
  }
}

test('PostgreSQL: parallel appends and deliveries (group commit) from several nodes: no UID is ever visible before a lower one', { timeout: 300_000 }, () =>
  withDatabase(async (url) => {
    const NODES = 4;
    const PER_WORKER = 25;
    const WORKERS_PER_NODE = 4;
    const nodes = await Promise.all(Array.from({ length: NODES }, () => PostgresStore.open(url, { poolSize: WORKERS_PER_NODE })));
    const reader = await PostgresStore.open(url, { poolSize: 2 });
    try {
      const u = await nodes[0]!.createUser({ address: 'order@example.com', password: 'pw' });
      const inbox = await nodes[0]!.getSpecialFolder(u.id, '\\Inbox');
      let writing = true;
      let reads = 0;
      let maxSeen = 0;
      // the reader looks while the writers write: every listing must be exactly UIDs 1..n
      const reading = (async () => {
        while (writing) {
          const uids = [...(await reader.listMessageIndex(u.id, inbox.id)).uids];
          uids.forEach((uid, i) => assert.equal(uid, i + 1, `listing ${reads}: UID ${uid} visible at position ${i} (a lower UID is not visible yet)`));
          assert.ok(uids.length >= maxSeen, 'a visible message never disappears');
          maxSeen = uids.length;
          const status = await reader.folderStatus(u.id, inbox.id);
          assert.ok(status.uidNext > maxSeen);
          reads++;
        }
      })();
      let n = 0;
      const results = await Promise.all(nodes.flatMap((node) => Array.from({ length: WORKERS_PER_NODE }, async () => {
        const mine = [];
        // appends one transaction each, deliveries in the node's delivery groups: both allocate under the folder lock
        for (let i = 0; i < PER_WORKER; i++) {
          mine.push(i % 2 ? await node.append(u.id, inbox.id, message(n++)) : (await node.deliver([u.id], message(n++))).delivered.get(u.id)!);
        }
        return mine;
      })));
      writing = false;
      await reading;
      const all = results.flat();
      const total = NODES * WORKERS_PER_NODE * PER_WORKER;
      assert.deepEqual(all.map((r) => r.uid).sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1), 'distinct UIDs 1..n');
      // MODSEQ follows UID order: allocated under the same lock
      const byUid = [...all].sort((a, b) => a.uid - b.uid);
      for (let i = 1; i < byUid.length; i++) assert.ok(byUid[i]!.modseq > byUid[i - 1]!.modseq, 'MODSEQ increases with UID');
      assert.ok(reads > 0);
    } finally {
      await reader.close();
      await Promise.all(nodes.map((s) => s.close()));
    }
  }));

test('PostgreSQL: deliveries committed in one group: quota counts the group\'s own copies; one failing delivery fails no other', { timeout: 120_000 }, () =>
  withDatabase(async (url) => {
    const LIMIT = 10_000;
    const store = await PostgresStore.open(url, { quotaLimit: () => LIMIT });
    const side = new pg.Client(connectionConfig(url));
    const watcher = new pg.Client(connectionConfig(url));
    await side.connect();
    await watcher.connect();
    try {
      const users = [];
      for (const name of ['full', 'victim', 'other1', 'other2']) users.push(await store.createUser({ address: `${name}@example.com`, password: 'pw' }));
      const [full, victim, ...others] = users as [typeof users[0], typeof users[0], typeof users[0]];
      const big = (i: number) => Buffer.concat([message(i), Buffer.alloc(3000, 'x')]);
      // 6 copies of ~3 KB to one mailbox of 10 KB, handed over together: exactly 3 fit
      const filled = await Promise.all(Array.from({ length: 6 }, (_, i) => store.deliver([full.id], big(i))));
      assert.equal(filled.filter((d) => d.delivered.has(full.id)).length, 3);
      assert.equal(filled.filter((d) => d.overQuota.includes(full.id)).length, 3);
      assert.ok((await store.quota(full.id)).usedBytes <= LIMIT);

      // the victim is removed while a group waits for the victim's row lock (held here): the
      // victim's deliveries fail `not-found`, the others (of its group too) are delivered
      await side.query('BEGIN');
      await side.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [victim.id]);
      const pending = [victim, ...others, victim, ...others].map((u, i) => store.deliver([u.id], message(100 + i)).then((d) => ({ ok: true as const, d }), (e: unknown) => ({ ok: false as const, e })));
      // a group's lock query waits behind ours (an event: PostgreSQL says so; asked on another
      // connection, as a transaction sees one snapshot of the activity), then the victim goes
      for (;;) {
        const waiting = (await watcher.query("SELECT count(*)::INT AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%used_bytes FROM users%FOR NO KEY UPDATE%'")).rows[0].n as number;
        if (waiting > 0) break;
        await new Promise((r) => setImmediate(r));
      }
      await side.query('DELETE FROM users WHERE id = $1', [victim.id]);
      await side.query('COMMIT');
      const outcomes = await Promise.all(pending);
      outcomes.forEach((o, i) => {
        const u = [victim, ...others, victim, ...others][i]!;
        if (u.id === victim.id) {
          assert.ok(!o.ok && o.e instanceof StoreError && o.e.kind === 'not-found', `the victim's delivery ${i} fails not-found`);
        } else {
          assert.ok(o.ok && o.d.delivered.has(u.id), `delivery ${i} to ${u.address} delivered`);
        }
      });
      for (const u of others) assert.deepEqual([...(await store.listMessageIndex(u.id, (await store.getSpecialFolder(u.id, '\\Inbox')).id)).uids], [1, 2]);
    } finally {
      await side.end();
      await watcher.end();
      await store.close();
    }
  }));

test('PostgreSQL: outbound queue entries are leased to one node at a time; a dead node\'s entries are taken over after the lease', { timeout: 120_000 }, () =>
  withDatabase(async (url) => {
    const LEASE = 60_000;
    const a = await PostgresStore.open(url, { queueLeaseMs: LEASE, nodeName: 'node-a' });
    const b = await PostgresStore.open(url, { queueLeaseMs: LEASE, nodeName: 'node-b' });
    try {
      const ids = [];
      for (let i = 0; i < 6; i++) ids.push((await a.enqueue('s@example.com', [`r${i}@remote.example`], message(i), null)).id);
      const later = new Date(Date.now() + 1000); // all due (taken after the last enqueue)
      // both nodes ask at once: each entry goes to exactly one of them
      const [ea, eb] = await Promise.all([a.dueQueueEntries(later), b.dueQueueEntries(later)]);
      assert.deepEqual([...ea, ...eb].map((e) => e.id).sort((x, y) => x - y), ids, 'every due entry handed out once');
      assert.equal(ea.filter((e) => eb.some((f) => f.id === e.id)).length, 0, 'no entry to both nodes');
      // while leased no other node gets them; a node's own come back to it (its next pass works what it skipped)
      const idsOf = (es: Array<{ id: number }>) => es.map((e) => e.id).sort((x, y) => x - y);
      assert.deepEqual(idsOf(await a.dueQueueEntries(later)), idsOf(ea));
      assert.deepEqual(idsOf(await b.dueQueueEntries(later)), idsOf(eb));
      // node B finishes its entries: one delivered, the others deferred (which ends the lease)
      const bIds = eb.map((e) => e.id);
      if (eb.length) assert.equal(await b.removeQueueEntry(eb[0]!.id), true);
      for (const e of eb.slice(1)) await b.updateQueueEntry(e.id, { attempts: 1, nextAttempt: new Date(later.getTime() + 5000), lastError: 'deferred' });
      // node A dies holding its leases (closed without a word)
      await a.close();
      // before A's lease ran out: B gets only its own deferred entries once they are due again
      const beforeExpiry = await b.dueQueueEntries(new Date(later.getTime() + 10_000));
      assert.deepEqual(beforeExpiry.map((e) => e.id).sort((x, y) => x - y), bIds.slice(1).sort((x, y) => x - y));
      for (const e of beforeExpiry) await b.updateQueueEntry(e.id, { attempts: 2, nextAttempt: new Date(later.getTime() + 10 * LEASE), lastError: 'deferred' });
      // after it: B takes over A's entries
      const takenOver = await b.dueQueueEntries(new Date(later.getTime() + LEASE + 1));
      assert.deepEqual(takenOver.map((e) => e.id).sort((x, y) => x - y), ea.map((e) => e.id).sort((x, y) => x - y));
      assert.equal((await b.listQueue()).length, eb.length ? 5 : 6, 'only the delivered entry is gone');
    } finally {
      await a.close();
      await b.close();
    }
  }));

test('PostgreSQL: migration 4 adds the save date; a message stored before has none (not its internal date)', { timeout: 120_000 }, async () => {
  await withDatabase(async (url) => {
    const s = await PostgresStore.open(url);
    const u = await s.createUser({ address: 'mig4@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    await s.append(u.id, inbox.id, Buffer.from('Subject: before\r\n\r\nbody\r\n'), { internalDate: new Date('2001-02-03T04:05:06Z') });
    await s.close();
    // as version 3 left it
    const c = new pg.Client(connectionConfig(url));
    await c.connect();
    await c.query('ALTER TABLE messages DROP COLUMN save_date');
    await c.query('ALTER TABLE queue DROP COLUMN dsn, DROP COLUMN delay_notified'); // migration 5
    await c.query('ALTER TABLE blobs DROP COLUMN sort_facts'); // migration 6
    await c.query('ALTER TABLE messages DROP COLUMN thread_id, DROP COLUMN thread_key'); // migration 7
    await c.query('UPDATE mailwarden_schema SET version = 3');
    await c.end();
    const again = await PostgresStore.open(url);
    try {
      const m = (await again.getMessageByUid(u.id, inbox.id, 1))!;
      assert.equal(m.saveDate, null);
      assert.equal(m.internalDate.toISOString(), '2001-02-03T04:05:06.000Z');
      const copied = await again.copyMessages(u.id, inbox.id, [1], (await again.createFolder(u.id, 'After')).id);
      assert.ok((await again.listMessages(u.id, (await again.getFolder(u.id, 'After'))!.id))[0]!.saveDate instanceof Date, 'saved again: a save date');
      assert.equal(copied.pairs.length, 1);
    } finally {
      await again.close();
    }
  });
});

test('PostgreSQL: migration 6 fills in the sort facts of every message stored before it', { timeout: 120_000 }, async () => {
  await withDatabase(async (url) => {
    const s = await PostgresStore.open(url);
    const u = await s.createUser({ address: 'mig6@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    const raws = [
      Buffer.from('From: "Zed" <z@example.org>\r\nSubject: Re: old one\r\nMessage-ID: <old1@x>\r\n\r\nbody\r\n'),
      Buffer.from('From: a@example.org\r\nSubject: old two\r\nReferences: <old1@x>\r\n\r\nbody\r\n'),
    ];
    for (const raw of raws) await s.append(u.id, inbox.id, raw);
    await s.close();
    // as version 5 left it
    const c = new pg.Client(connectionConfig(url));
    await c.connect();
    await c.query('ALTER TABLE blobs DROP COLUMN sort_facts');
    await c.query('ALTER TABLE messages DROP COLUMN thread_id, DROP COLUMN thread_key'); // migration 7
    await c.query('UPDATE mailwarden_schema SET version = 5');
    await c.end();
    const again = await PostgresStore.open(url);
    try {
      const check = new pg.Client(connectionConfig(url));
      await check.connect();
      assert.equal(Number((await check.query('SELECT count(*) AS n FROM blobs WHERE sort_facts IS NULL')).rows[0].n), 0);
      await check.end();
      const got = await again.getSortFacts(u.id, inbox.id, [1, 2]);
      assert.deepEqual(got.map((m) => m.facts), raws.map((r) => factsOf(r)));
    } finally {
      await again.close();
    }
  });
});

test('PostgreSQL: migration 7 gives every message stored before it a thread of its own, and a later reply joins it by Message-ID', { timeout: 120_000 }, async () => {
  await withDatabase(async (url) => {
    const s = await PostgresStore.open(url);
    const u = await s.createUser({ address: 'mig7@example.com', password: 'pw' });
    const inbox = await s.getSpecialFolder(u.id, '\\Inbox');
    await s.append(u.id, inbox.id, Buffer.from('Subject: old\r\nMessage-ID: <old1@x>\r\n\r\nbody\r\n'));
    await s.append(u.id, inbox.id, Buffer.from('Subject: old reply\r\nReferences: <old1@x>\r\n\r\nbody\r\n'));
    await s.close();
    // as version 6 left it
    const c = new pg.Client(connectionConfig(url));
    await c.connect();
    await c.query('ALTER TABLE messages DROP COLUMN thread_id, DROP COLUMN thread_key');
    await c.query('UPDATE mailwarden_schema SET version = 6');
    await c.end();
    const again = await PostgresStore.open(url);
    try {
      const [a, b] = await again.getMessages(u.id, inbox.id, [1, 2]);
      assert.notEqual(a!.threadId, b!.threadId, 'rows stored before: each its own thread');
      await again.deliver([u.id], Buffer.from('Subject: new reply\r\nIn-Reply-To: <old1@x>\r\n\r\nbody\r\n'));
      const [c3] = await again.getMessages(u.id, inbox.id, [3]);
      assert.equal(c3!.threadId, a!.threadId, 'the backfilled Message-ID key finds the old parent');
    } finally {
      await again.close();
    }
  });
});

test('PostgreSQL: the schema is versioned (reopening migrates nothing) and a database of another application is refused', { timeout: 120_000 }, async () => {
  await withDatabase(async (url) => {
    const s = await PostgresStore.open(url);
    await s.close();
    const again = await PostgresStore.open(url);
    await again.close();
    const c = new pg.Client(connectionConfig(url));
    await c.connect();
    try {
      assert.equal((await c.query('SELECT version FROM mailwarden_schema')).rows[0].version, MIGRATIONS.length);
      assert.equal((await c.query('SELECT count(*)::INT AS n FROM mailwarden_schema')).rows[0].n, 1);
    } finally {
      await c.end();
    }
  });
  await withDatabase(async (url) => {
    const c = new pg.Client(connectionConfig(url));
    await c.connect();
    await c.query('CREATE TABLE invoices (id INT)');
    await c.end();
    await assert.rejects(PostgresStore.open(url), (err: unknown) => err instanceof StoreError && err.kind === 'not-a-mailwarden-database');
  });
});

test('PostgreSQL: an unreachable server is "unavailable", a closed store "read-only"', { timeout: 60_000 }, async () => {
  await assert.rejects(PostgresStore.open('postgres://127.0.0.1:1/nothing'), (err: unknown) => err instanceof StoreError && err.kind === 'unavailable');
  await withDatabase(async (url) => {
    const s = await PostgresStore.open(url);
    await s.close();
    await assert.rejects(s.listUsers(), (err: unknown) => err instanceof StoreError && err.kind === 'read-only');
  });
});
