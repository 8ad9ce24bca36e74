// The admin side of ActiveSync through the real CLI against a real `mailwarden serve`: a held
// Ping shows in `sessions list` with its device id and model, `access explain --protocol eas`
// counts it, `devices list` / Get-MobileDevice list the device, Remove-MobileDevice removes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { eventually } from '../helpers/server.js';
import { cli, serve } from '../cli/run-cli.js';
import { el } from '../../src/protocols/activesync/wbxml/codec.js';
import { EasClient } from './client.js';

test('sessions list shows the pinging device; access explain --protocol eas counts it; devices list / Get-MobileDevice / Remove-MobileDevice', async () => {
  const t = tempDir();
  const data = join(t.dir, 'data');
  assert.equal(cli(['user', 'add', 'erin@example.com', '--password-stdin', '--data', data], 'pw-erin\n').code, 0);
  const server = await serve(data);
  const abort = new AbortController();
  try {
    const c = new EasClient({ port: server.port('https'), ca: readFileSync(join(data, 'tls', 'cert.pem'), 'utf8'), user: 'erin@example.com', password: 'pw-erin', deviceId: 'CLIPHONE1', deviceType: 'iPhone' });
    await c.send('Settings', el('Settings', 'Settings', [el('Settings', 'DeviceInformation', [el('Settings', 'Set', [el('Settings', 'Model', 'iPhone15,2'), el('Settings', 'OS', 'iOS 18')])])]));
    const { folders } = await c.folderSync();
    const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
    let s = await c.sync(inboxId, '0');
    s = await c.sync(inboxId, s.key);
    const pinging = c.ping([inboxId], 900, abort.signal).catch(() => null);
    const sessions = await eventually(() => {
      const r = cli(['sessions', 'list', '--json', '--data', data]);
      const list = JSON.parse(r.stdout) as Array<{ kind: string; clientInfo: string }>;
      return list.some((x) => x.kind === 'eas') ? list : null;
    }, 120_000, 'the Ping to be held');
    assert.match(sessions!.find((x) => x.kind === 'eas')!.clientInfo, /^ActiveSync CLIPHONE1 \(iPhone, iPhone15,2\)$/);
    const table = cli(['sessions', 'list', '--data', data]);
    assert.match(table.stdout, /eas .*ActiveSync CLIPHONE1 \(iPhone, iPhone15,2\)/);
    const explain = JSON.parse(cli(['access', 'explain', 'erin@example.com', '--protocol', 'eas', '--json', '--data', data]).stdout) as { allowed: boolean; layers: Array<{ layer: string; checks: Array<{ setting: string; count: number; limit: number | string }> }> };
    assert.equal(explain.allowed, true);
    const checks = explain.layers.flatMap((l) => l.checks);
    const throttling = checks.find((c) => c.setting === 'ThrottlingPolicy.EASMaxConcurrency');
    assert.equal(checks.find((c) => c.setting === 'Maximum Allowed Service Sessions Per User')?.count, 1, 'and its store session');
    assert.equal(throttling?.count, 1, 'the held Ping is counted');
    assert.equal(throttling?.limit, 10);
    abort.abort();
    await pinging;

    const devices = JSON.parse(cli(['devices', 'list', '--json', '--data', data]).stdout) as Array<{ deviceId: string; model: string; os: string; deviceType: string }>;
    assert.deepEqual(devices.map((d) => [d.deviceId, d.deviceType, d.model, d.os]), [['CLIPHONE1', 'iPhone', 'iPhone15,2', 'iOS 18']]);
    assert.match(cli(['Get-MobileDevice', '-Mailbox', 'erin@example.com', '--data', data]).stdout, /CLIPHONE1\s+iPhone\s+iPhone15,2/);
    const bad = cli(['devices', 'remove', 'erin@example.com', 'NOSUCH', '--data', data]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /has no device NOSUCH/);
    const removed = cli(['Remove-MobileDevice', '-Identity', 'erin@example.com', '-DeviceId', 'CLIPHONE1', '--data', data]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(cli(['devices', 'list', '--data', data]).stdout, /no mobile devices/);
  } finally {
    abort.abort();
    await server.stop();
    t.cleanup();
  }
});
