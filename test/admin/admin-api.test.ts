import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer } from '../helpers/server.js';

function call(port: number, ca: string, path: string, method = 'GET', token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, ca, servername: 'localhost', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('admin API: token required; health, sessions, kill, access explain and Prometheus metrics reflect the governor', async () => {
  const srv = await startTestServer();
  try {
    const port = srv.port('https');
    const ca = readFileSync(join(srv.dataDir, 'tls', 'cert.pem'), 'utf8');
    const token = readFileSync(join(srv.dataDir, 'admin.token'), 'utf8').trim();
    for (const path of ['/api/admin/health', '/api/admin/sessions', '/metrics', '/api/admin/access/explain?user=x&protocol=imap']) {
      assert.equal((await call(port, ca, path)).status, 401, path);
      assert.equal((await call(port, ca, path, 'GET', 'not-the-token')).status, 401, path);
    }
    const user = await srv.addUser('metrics@example.com');
    await srv.setSetting('Maximum Allowed Service Sessions Per User', '2');
    const a = await srv.ctx.governor.open({ user, kind: 'imap', clientAddress: '192.0.2.1', clientInfo: 'Thunderbird 140' });
    await srv.ctx.governor.open({ user, kind: 'pop3', clientAddress: '192.0.2.2' });
    await assert.rejects(srv.ctx.governor.open({ user, kind: 'owa', clientAddress: '192.0.2.3' }));
    const health = JSON.parse((await call(port, ca, '/api/admin/health', 'GET', token)).text);
    assert.equal(health.ok, true);
    assert.equal(health.sessions, 2);
    const sessions = JSON.parse((await call(port, ca, '/api/admin/sessions?user=metrics@example.com', 'GET', token)).text).sessions as Array<{ id: string; clientInfo: string | null }>;
    assert.equal(sessions.length, 2);
    assert.ok(sessions.some((s) => s.clientInfo === 'Thunderbird 140'));
    assert.equal((await call(port, ca, '/api/admin/sessions?user=ghost@example.com', 'GET', token)).status, 404);
    const explained = JSON.parse((await call(port, ca, '/api/admin/access/explain?user=metrics@example.com&protocol=owa', 'GET', token)).text);
    assert.equal(explained.refusedBy, 'store session limits');
    assert.equal((await call(port, ca, '/api/admin/access/explain?user=metrics@example.com&protocol=smtp', 'GET', token)).status, 400);
    const metrics = (await call(port, ca, '/metrics', 'GET', token)).text;
    assert.match(metrics, /^mailwarden_sessions_open\{kind="imap"\} 1$/m);
    assert.match(metrics, /^mailwarden_sessions_open\{kind="pop3"\} 1$/m);
    assert.match(metrics, /^mailwarden_session_refusals_total\{kind="owa"\} 1$/m);
    assert.equal((await call(port, ca, `/api/admin/sessions/${a.id}`, 'DELETE', token)).status, 200);
    assert.equal((await call(port, ca, `/api/admin/sessions/${a.id}`, 'DELETE', token)).status, 404);
    assert.equal(a.isOpen, false);
    const after = (await call(port, ca, '/metrics', 'GET', token)).text;
    assert.match(after, /^mailwarden_sessions_open\{kind="pop3"\} 1$/m);
    assert.doesNotMatch(after, /^mailwarden_sessions_open\{kind="imap"\}/m, 'the killed imap session is gone');
    assert.match(after, /^mailwarden_sessions_opened_total\{kind="imap"\} 1$/m);
  } finally {
    await srv.close();
  }
});
