// Issue 14 item 6: one server per data folder by a lock the kernel releases when the process dies,
// not by the PID in DATA/server.json (which after kill -9 may belong to another process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serve } from './run-cli.js';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';

const BIN = resolve('bin/mailwarden');

test('start-up lock: a second server is refused; after kill -9, and with a stale server.json naming a live PID, the server starts', { timeout: 900_000 }, async () => { // five node start-ups: minutes each on a loaded machine
  const tmp = tempDir();
  const data = join(tmp.dir, 'data');
  try {
    const first = await serve(data);
    // a second server on the same folder is refused while the first lives
    const second = await run(process.execPath, [BIN, 'serve', '--data', data, '--imap-port', '0', '--imaps-port', '0', '--pop3-port', '0', '--pop3s-port', '0', '--smtp-port', '0', '--submission-port', '0', '--submissions-port', '0', '--lmtp-port', '0', '--http-port', '0']);
    assert.equal(second.status, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`already running on .*\\(pid ${first.child.pid}\\)|\\(pid ${first.child.pid}\\) is already running`));
    // kill -9: no clean-up ran, server.json still names the dead process
    const died = new Promise<void>((r) => first.child.once('exit', () => r()));
    first.child.kill('SIGKILL');
    await died;
    assert.equal(JSON.parse(readFileSync(join(data, 'server.json'), 'utf8')).pid, first.child.pid);
    const afterKill = await serve(data);
    await afterKill.stop();
    // a stale server.json whose PID belongs to another live process (this test's own)
    writeFileSync(join(data, 'server.json'), JSON.stringify({ pid: process.pid, host: '127.0.0.1', httpPort: 1, listeners: [] }));
    const sessions = await run(process.execPath, [BIN, 'sessions', 'list', '--data', data]);
    assert.equal(sessions.status, 0, sessions.stderr);
    assert.match(sessions.stdout, /no server running/);
    const third = await serve(data);
    await third.stop();
  } finally {
    tmp.cleanup();
  }
});
