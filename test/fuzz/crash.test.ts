// Every crash the fuzzer saved (test/fuzz/crashes/*.json) is replayed as a regression test.
import { test } from 'node:test';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS } from './targets.js';

const DIR = join(fileURLToPath(new URL('../../../', import.meta.url)), 'test', 'fuzz', 'crashes');
const saved = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];

test(`fuzz crashes replayed: ${saved.length}`, { timeout: 300_000 }, async (t) => {
  for (const file of saved) {
    const { target: name, input } = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { target: string; input: never };
    const target = TARGETS.find((x) => x.name === name);
    if (!target) throw new Error(`${file}: unknown target ${name}`);
    await t.test(file, async () => {
      await target.setUp?.();
      try {
        await target.check(input);
      } finally {
        await target.tearDown?.();
      }
    });
  }
});
