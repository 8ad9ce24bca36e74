/**
 * PostgreSQL restarted under load (a private server: never the shared one): writes in flight
 * fail as `unavailable` (the protocols' temporary error), never as anything else; nothing
 * acknowledged is lost; the store reconnects by itself, and the invariants hold after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../../src/store/errors.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { postgresBackend } from '../conformance/backends.js';
import { checkInvariants } from '../conformance/invariants.js';
import { startPrivatePostgres } from '../../helpers/private-postgres.js';

const WORKERS = 8;
const BEFORE = 40;
const AFTER = 40;

test('PostgreSQL restarted under load: in-flight writes are "unavailable", acknowledged ones all there, the store reconnects by itself', { timeout: 600_000 }, async (t) => {
  const server = await startPrivatePostgres();
  if (!server) return t.skip('PostgreSQL server binaries (initdb, pg_ctl) are not installed');
  try {
    const store = await PostgresStore.open(server.url, { poolSize: WORKERS, onBackgroundError: () => undefined });
    const acked: string[] = [];
    const failures: string[] = [];
    let restartDone: Promise<void> | null = null;
    let restarted = false;
    let ackedAfterRestart = 0;
    let stop = false;
    try {
      const u = await store.createUser({ address: 'restart@example.com', password: 'pw' });
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      let n = 0;
      const worker = async () => {
        while (!stop) {
          const i = n++;
          try {
            const r = await store.append(u.id, inbox.id, Buffer.from(`Subject: r${i}\r\nMessage-ID: <r${i}@t>\r\n\r\nbody ${i}\r\n`));
            acked.push(r.objectId);
            // the restart starts on an event (the BEFORE-th acknowledgement), not on a timer
            if (restartDone === null && acked.length >= BEFORE) restartDone = server.restart().then(() => void (restarted = true));
            if (restarted && ++ackedAfterRestart >= AFTER) stop = true;
          } catch (err) {
            if (!(err instanceof StoreError) || err.kind !== 'unavailable') throw new Error(`a write failed with something else than "unavailable": ${(err as Error).stack}`);
            failures.push(err.message);
            // no busy retry while the server is down: wait for the restart to finish
            await (restartDone ?? Promise.resolve());
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, worker));
      await restartDone;
      t.diagnostic(`${acked.length} appends acknowledged, ${failures.length} failed as unavailable during the restart`);
      for (const id of acked) assert.ok(await store.getMessage(u.id, id), `acknowledged ${id} is stored`);
      const status = await store.folderStatus(u.id, inbox.id);
      assert.ok(status.messages >= acked.length, 'at least every acknowledged message (an unacknowledged one may have committed)');
    } finally {
      await store.close();
    }
    const opened = await postgresBackend.open(server.url);
    try {
      await checkInvariants(opened);
    } finally {
      await opened.close();
    }
  } finally {
    await server.stop();
  }
});
