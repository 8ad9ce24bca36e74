/**
 * The conformance suite fails when an invariant is broken on purpose: each sabotage of
 * sabotages.ts makes the invariant check after a write fail with the invariant it broke, while
 * the same writes on an intact store pass; and the whole suite, run with one sabotage, fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BACKENDS, type Backend } from './backends.js';
import { checked, InvariantViolation } from './invariants.js';
import { msg } from './harness.js';
import { SABOTAGES } from './sabotages.js';

/** Ordinary writes through the checked store: one of each kind the sabotages touch. */
async function workload(backend: Backend, sql: string | null): Promise<void> {
  const { location, remove } = await backend.create();
  const opened = await backend.open(location);
  try {
    if (sql) await opened.inspector.exec(sql);
    const { store } = await checked(opened);
    const u = await store.createUser({ address: 'sabotage@conformance.test', password: 'pw' });
    const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
    const box = await store.createFolder(u.id, 'Box');
    for (let i = 0; i < 3; i++) await store.append(u.id, inbox.id, msg(`s${i}`), { internalDate: new Date(Date.UTC(2024, 0, 1 + i)) });
    await store.storeFlags(u.id, inbox.id, [1, 2], 'add', ['\\Seen']);
    await store.copyMessages(u.id, inbox.id, [1], box.id);
    await store.moveMessages(u.id, inbox.id, [2], box.id);
    await store.storeFlags(u.id, inbox.id, [3], 'add', ['\\Deleted']);
    await store.expunge(u.id, inbox.id);
  } finally {
    await opened.close();
    await remove();
  }
}

for (const backend of BACKENDS) {
  const sabotages = SABOTAGES[backend.name] ?? [];
  test(`${backend.name}: the sabotage workload passes on an intact store`, () => workload(backend, null));

  test(`${backend.name}: at least 6 sabotages are defined`, () => assert.ok(sabotages.length >= 6, `${sabotages.length}`));

  for (const s of sabotages) {
    test(`${backend.name}, sabotage "${s.name}": the check after a write fails with "${s.breaks}"`, async () => {
      await assert.rejects(workload(backend, s.sql), (err: unknown) => {
        assert.ok(err instanceof InvariantViolation, `an InvariantViolation, not ${(err as Error)?.stack ?? err}`);
        assert.equal(err.invariant, s.breaks, err.message);
        return true;
      });
    });
  }

  if (sabotages.length) {
    test(`${backend.name}: the whole conformance suite, run with an invariant broken, fails`, { timeout: 600_000 }, () => {
      const s = sabotages[0]!;
      const suite = fileURLToPath(new URL('./conformance.test.js', import.meta.url));
      // without NODE_TEST_CONTEXT: the child is a test run of its own, not a subtest reporting here
      const { NODE_TEST_CONTEXT: _, ...env } = process.env;
      const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', suite], {
        env: { ...env, CONFORMANCE_SABOTAGE: s.name, CONFORMANCE_BACKEND: backend.name }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
      });
      assert.notEqual(r.status, 0, 'the suite fails');
      const failed = Number(/^# fail (\d+)/m.exec(r.stdout)?.[1] ?? 0);
      assert.ok(failed >= 5, `many contracts fail (${failed})`);
      assert.match(r.stdout, new RegExp(`invariant "${s.breaks}" broken`));
    });
  }
}
