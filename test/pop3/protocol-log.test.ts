import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, eventually } from '../helpers/server.js';
import { LineClient } from '../helpers/line-client.js';

test('PopSettings.ProtocolLogEnabled: one line per command and response, passwords masked, off by default', async () => {
  const srv = await startTestServer({ plaintext: true });
  try {
    await srv.addUser('logged@example.com', 'Very-Secret-9');
    const file = join(srv.dataDir, 'logs', 'pop3-protocol.log');
    const session = async (pass: string) => {
      const c = await LineClient.connect(srv.port('pop3'));
      await c.line();
      await c.cmd('USER logged@example.com');
      await c.cmd(`PASS ${pass}`);
      await c.cmd('QUIT');
      await c.waitClose().catch(() => undefined);
    };
    await session('Very-Secret-9');
    assert.ok(!existsSync(file), 'no protocol log unless enabled');
    await srv.setSetting('PopSettings.ProtocolLogEnabled', 'true');
    await session('Very-Secret-9');
    await session('Wrong-Secret-1');
    await eventually(() => existsSync(file) && readFileSync(file, 'utf8').includes('-ERR [AUTH]'), 'log lines');
    const log = readFileSync(file, 'utf8');
    assert.ok(!log.includes('Very-Secret-9') && !log.includes('Wrong-Secret-1'), 'passwords never logged');
    assert.match(log, /,C,"USER logged@example.com"/);
    assert.match(log, /,C,"PASS \*\*\*\*\*"/);
    assert.match(log, /,S,"\+OK logged@example.com has 0 messages/);
    assert.match(log, /,S,"-ERR \[AUTH\] Authentication failed"/);
    for (const line of log.trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z,pop3-[\w-]+,\d+,[CS],".*"$/);
  } finally {
    await srv.close();
  }
});
