/**
 * The store conformance suite: every contract file of contracts/ (found at run time: a new
 * area is a new file) on every backend of backends.ts, each contract on a fresh store whose
 * every write re-checks the invariants (invariants.ts).
 */
import { describe, test } from 'node:test';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BACKENDS } from './backends.js';
import { runContract, type ContractFile } from './harness.js';

const dir = new URL('./contracts/', import.meta.url);
const files = readdirSync(fileURLToPath(dir)).filter((f) => f.endsWith('.js')).sort();
const areas: ContractFile[] = [];
for (const f of files) areas.push((await import(new URL(f, dir).href)) as ContractFile);

test('the conformance suite found its contract files', (t) => {
  if (areas.length < 9) throw new Error(`only ${areas.length} contract files in ${fileURLToPath(dir)}`);
  t.diagnostic(`areas: ${areas.map((a) => a.area).join(', ')}`);
});

// CONFORMANCE_BACKEND: one backend only (sabotage.test.ts runs the suite again for the backend it broke)
const only = process.env.CONFORMANCE_BACKEND;
for (const backend of BACKENDS.filter((b) => !only || b.name === only)) {
  for (const a of areas) {
    describe(`${backend.name} store: ${a.area}`, () => {
      for (const c of a.contracts) {
        test(c.name, { todo: c.todo, timeout: 120_000 }, () => runContract(backend, c));
      }
    });
  }
}
