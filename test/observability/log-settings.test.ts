import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { logLevel, LOG_LEVEL_ENV } from '../../src/observability/log.js';
import { loadConfig } from '../../src/server/config.js';
import { Metrics } from '../../src/observability/metrics.js';
import { instrumentStore } from '../../src/server/instrument.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/tmp.js';

const BIN = resolve('bin/mailwarden');

/** `mailwarden serve` on free ports with `env` added; resolves with what it wrote once it has stopped again. */
function serveAndStop(dataDir: string, env: Record<string, string>, extra: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const ports = ['imap', 'imaps', 'pop3', 'pop3s', 'smtp', 'submission', 'submissions', 'lmtp', 'http'].flatMap((p) => [`--${p}-port`, '0']);
  const child = spawn(process.execPath, [BIN, 'serve', '--data', dataDir, ...ports, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  let stopping = false;
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (!stopping && stdout.includes('Stop with Ctrl-C.')) {
      stopping = true;
      child.kill('SIGTERM');
    }
  });
  return new Promise((done) => child.once('close', (code) => done({ code, stdout, stderr })));
}

describe('log level and format', () => {
  it('MAILWARDEN_LOG_LEVEL wins over the config file, info by default, a bad value is refused', () => {
    assert.equal(logLevel(undefined, {}), 'info');
    assert.equal(logLevel('warn', {}), 'warn');
    assert.equal(logLevel('warn', { [LOG_LEVEL_ENV]: 'DEBUG' }), 'debug');
    assert.throws(() => logLevel('warn', { [LOG_LEVEL_ENV]: 'loud' }), /MAILWARDEN_LOG_LEVEL=loud: not a log level/);
  });

  it('the config file takes log.level and refuses a level that does not exist', () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'config.json');
      writeFileSync(file, JSON.stringify({ log: { level: 'debug' } }));
      assert.equal(loadConfig(file).log.level, 'debug');
      writeFileSync(file, JSON.stringify({ log: { level: 'chatty' } }));
      assert.throws(() => loadConfig(file), /log\.level/);
      assert.equal(loadConfig(undefined).log.level, undefined);
    } finally {
      tmp.cleanup();
    }
  });

  it('`mailwarden serve` logs JSON lines on standard error and keeps standard output for people', async () => {
    const tmp = tempDir();
    try {
      const r = await serveAndStop(join(tmp.dir, 'data'), { [LOG_LEVEL_ENV]: 'debug' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Mailwarden .* serving /);
      assert.ok(!r.stdout.includes('{"'), 'no log lines on standard output');
      const lines = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const started = lines.find((l) => l.msg === 'server started');
      assert.ok(started, r.stderr);
      assert.equal(started.level, 'info');
      assert.match(String(started.time), /^\d{4}-\d\d-\d\dT/);
      assert.ok(lines.some((l) => l.msg === 'server stopped'), 'the last line is written before the process exits');

      const quiet = await serveAndStop(join(tmp.dir, 'data'), { [LOG_LEVEL_ENV]: 'warn' });
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.equal(quiet.stderr, '', 'nothing below warn');
    } finally {
      tmp.cleanup();
    }
  });
});

describe('store operation timings (a wrapper at the composition root)', () => {
  it('times each call with its outcome, and the caller still gets the answer or the error', async () => {
    const tmp = tempDir();
    const metrics = new Metrics();
    const store = instrumentStore(await SqliteStore.open(join(tmp.dir, 'store.sqlite')), metrics);
    try {
      assert.equal(store.backend, 'sqlite');
      assert.ok(store instanceof SqliteStore);
      const user = await store.createUser({ address: 'timed@example.com', password: 'pw-timed' });
      assert.equal((await store.findUser('timed@example.com'))?.id, user.id);
      await assert.rejects(store.createUser({ address: 'not an address', password: 'x' }), /not a valid e-mail address/);
      // a method replaced on the store afterwards (as tests that count calls do) is the one called
      let calls = 0;
      const real = store.findUser.bind(store);
      store.findUser = (identity: string) => {
        calls++;
        return real(identity);
      };
      assert.equal((await store.findUser('timed@example.com'))?.id, user.id);
      assert.equal(calls, 1);
      const text = await metrics.render();
      assert.match(text, /^mailwarden_store_operation_duration_seconds_count\{operation="createUser",outcome="ok"\} 1$/m);
      assert.match(text, /^mailwarden_store_operation_duration_seconds_count\{operation="createUser",outcome="error"\} 1$/m);
      assert.match(text, /^mailwarden_store_operation_duration_seconds_count\{operation="findUser",outcome="ok"\} 3$/m, 'the first call, the replacement and the original it called');
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });
});
