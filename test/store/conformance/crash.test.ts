/**
 * Crash safety on every backend: a child process writes with many writes in flight and is
 * killed with SIGKILL at a random point after its first acknowledged write (after the k-th
 * acknowledgement, k random: an event, not a timer); the store is reopened, every invariant
 * holds, and every write the child had acknowledged is there. Several rounds on one store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BACKENDS, type Backend } from './backends.js';
import { checkInvariants } from './invariants.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const ROUNDS = 5;
const ADDRESS = 'crash@conformance.test';

/** Runs the child until its k-th acknowledgement, then SIGKILLs it; the complete lines it printed. */
function runAndKill(backend: Backend, location: string, k: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, backend.name, location, ADDRESS], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (!killed && out.split('\n').length - 1 >= k) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the writing child ended by itself (code ${code}): ${err}`));
      else resolve(out.split('\n').slice(0, -1)); // a last line without its newline was not acknowledged
    });
  });
}

for (const backend of BACKENDS) {
  test(`${backend.name} store: kill -9 mid-write (${ROUNDS} rounds): reopened, invariants hold and every acknowledged write is there`, { timeout: 600_000 }, async () => {
    const { location, remove } = await backend.create();
    try {
      const setup = await backend.open(location);
      const u = await setup.store.createUser({ address: ADDRESS, password: 'pw' });
      await setup.store.createFolder(u.id, 'Archive');
      await setup.close();
      const acked: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const k = 1 + Math.floor(Math.random() * 120);
        const lines = await runAndKill(backend, location, k);
        assert.ok(lines.length >= 1, `round ${round}: at least the first acknowledgement`);
        acked.push(...lines);
        const opened = await backend.open(location);
        try {
          await checkInvariants(opened);
          const { store } = opened;
          const user = (await store.findUser(ADDRESS))!;
          const archive = (await store.getFolder(user.id, 'Archive'))!;
          const kinds = new Map<string, Set<string>>();
          for (const l of acked) {
            const [kind, id] = l.split(' ') as [string, string];
            if (!kinds.has(id)) kinds.set(id, new Set());
            kinds.get(id)!.add(kind);
          }
          const removalStarted = new Set(acked.filter((l) => l.startsWith('A ') && l.endsWith(' X')).map((l) => l.split(' ')[1]));
          for (const [id, done] of kinds) {
            const m = await store.getMessage(user.id, id);
            if (done.has('X')) {
              assert.equal(m, null, `round ${round}: ${id} was acknowledged removed`);
              continue;
            }
            if (removalStarted.has(id) && m === null) continue; // its removal was in flight at the kill: it may have committed
            assert.ok(m, `round ${round}: acknowledged message ${id} is in the store`);
            if (done.has('F')) assert.ok(m.flags.includes('\\Flagged'), `round ${round}: ${id} acknowledged \\Flagged`);
            if (done.has('M')) assert.equal(m.folderId, archive.id, `round ${round}: ${id} acknowledged moved`);
          }
        } finally {
          await opened.close();
        }
      }
      assert.ok(acked.length >= ROUNDS);
    } finally {
      await remove();
    }
  });
}
