#!/usr/bin/env node
// npm run fuzz [-- SECONDS [TARGET…]]: each fuzz target (test/fuzz/targets.ts) for SECONDS
// (default 600, the ten minutes), one process each, one after another. Not part of npm test.
import { spawnSync } from 'node:child_process';

const ALL = ['imap-command', 'mime-structure', 'pop3-commands', 'smtp-commands', 'ews-soap', 'activesync-wbxml'];
const [secondsArg, ...named] = process.argv.slice(2);
const seconds = Number(secondsArg ?? process.env.FUZZ_SECONDS ?? 600);
let failed = 0;
for (const target of named.length ? named : ALL) {
  const r = spawnSync(process.execPath, ['dist/test/fuzz/run.js', target, String(seconds)], { stdio: 'inherit', env: { ...process.env, MAILWARDEN_LOG_LEVEL: 'silent' } });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
