import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { run } from '../helpers/run.js';

const UNIT = 'contrib/mailwarden.service';

test('the systemd unit is valid and runs the server unprivileged, sandboxed, with low ports by capability', async () => {
  const text = readFileSync(UNIT, 'utf8');
  const option = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(text)?.[1];
  assert.equal(option('User'), 'mailwarden');
  assert.match(option('AmbientCapabilities') ?? '', /CAP_NET_BIND_SERVICE/);
  assert.equal(option('NoNewPrivileges'), 'true');
  assert.equal(option('ProtectSystem'), 'strict');
  assert.equal(option('StateDirectory'), 'mailwarden');
  assert.match(option('ExecStart') ?? '', / serve --data \/var\/lib\/mailwarden /);
  assert.match(option('ExecReload') ?? '', /-HUP/);
  // V8 needs W+X pages: this option would make node crash at start
  assert.equal(option('MemoryDenyWriteExecute'), undefined);
  if (existsSync('/usr/bin/systemd-analyze')) {
    const r = await run('systemd-analyze', ['verify', UNIT]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', r.stderr);
  }
});
