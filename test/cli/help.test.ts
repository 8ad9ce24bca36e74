// Issue 14 item 5: every command and subcommand answers --help (and -h) with its usage and exits 0
// without side effects: no data folder created, no store opened, no port bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';
import { COMMAND_HELP } from '../../src/cli/help.js';

const BIN = resolve('bin/mailwarden');

/** Every invocation: each command alone, and each of its subcommands. */
function invocations(): string[][] {
  const out: string[][] = [];
  for (const [group, subs] of Object.entries(COMMAND_HELP)) {
    if (group === 'exchange') {
      for (const [usage] of Object.values(subs)) out.push([usage.split(' ')[0]!]);
      continue;
    }
    out.push([group]);
    for (const sub of Object.keys(subs)) if (sub) out.push([group, sub]);
  }
  return out;
}

test('--help and -h on every command and subcommand: usage on stdout, exit 0, nothing created', { timeout: 1_800_000 }, async () => { // a node start per command: 494 s at load 30-50
  const cwd = tempDir();
  try {
    const cases = invocations();
    assert.ok(cases.length >= 25, `${cases.length} invocations`);
    // --help everywhere; -h on each command (the same code path)
    for (const flag of ['--help', '-h']) {
      const these = flag === '--help' ? cases : cases.filter((c) => c.length === 1);
      // a few at a time: the machine is shared
      for (let i = 0; i < these.length; i += 4) {
        await Promise.all(these.slice(i, i + 4).map(async (argv) => {
          const r = await run('sh', ['-c', `cd "${cwd.dir}" && exec "${process.execPath}" "${BIN}" "$@"`, 'sh', ...argv, flag], { timeoutMs: 60_000 });
          const what = `${argv.join(' ')} ${flag}`;
          assert.equal(r.status, 0, `${what}: exit ${r.status} ${r.stderr}`);
          assert.match(r.stdout, /^Usage:\n {2}mailwarden /, what);
          assert.ok(r.stdout.toLowerCase().includes(`mailwarden ${argv.join(' ').toLowerCase()}`), `${what}: ${r.stdout}`);
          assert.equal(r.stderr, '', what);
        }));
      }
    }
    // serve --help returned (it did not serve), and no data folder appeared
    assert.equal(existsSync(join(cwd.dir, 'data')), false);
    assert.deepEqual(readdirSync(cwd.dir), []);
    // with arguments that would otherwise be wrong or act, --help still only prints
    const r = await run(process.execPath, [BIN, 'user', 'remove', 'nobody@example.com', '--data', join(cwd.dir, 'other'), '--help']);
    assert.equal(r.status, 0);
    assert.equal(existsSync(join(cwd.dir, 'other')), false);
  } finally {
    cwd.cleanup();
  }
});
