import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { run } from '../helpers/run.js';
import { ApiClient } from '../web/helpers.js';

// Real clients nobody here wrote: python3 imaplib, poplib and smtplib; the web mail's JSON API over HTTPS.
const PASSWORD = 'Pw-obs-7f3k-Quokka';
const WRONG = 'Wrong-obs-9q2z-Wombat';

function scrape(srv: TestServer): Promise<string> {
  const ca = readFileSync(join(srv.dataDir, 'tls', 'cert.pem'), 'utf8');
  const token = readFileSync(join(srv.dataDir, 'admin.token'), 'utf8').trim();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port('https'), path: '/metrics', ca, servername: 'localhost', headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`/metrics: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line of the exposition, or undefined when there is none. */
function sample(metrics: string, line: string): number | undefined {
  const found = metrics.split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

async function python(script: string, args: string[]): Promise<string> {
  const r = await run('python3', ['-c', script, ...args], { timeoutMs: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const IMAP_SCRIPT = `
import imaplib, ssl, sys
port, user, password, wrong = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
try:
    m.login(user, wrong)
    print('wrong password accepted'); sys.exit(1)
except imaplib.IMAP4.error:
    pass
m.logout()
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
m.login(user, password)
m.select('INBOX')
m.logout()
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
m.authenticate('PLAIN', lambda _: ('\\0' + user + '\\0' + password).encode())
m.noop()
m.logout()
print('ok')
`;

const POP_SMTP_SCRIPT = `
import poplib, smtplib, ssl, sys
pop_port, smtp_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL('127.0.0.1', pop_port, context=ctx)
p.user(user); p.pass_(password); p.stat(); p.quit()
s = smtplib.SMTP_SSL('127.0.0.1', smtp_port, context=ctx)
s.login(user, password)  # AUTH PLAIN: smtplib's first choice among PLAIN and LOGIN
s.sendmail(user, [user], 'From: %s\\r\\nTo: %s\\r\\nSubject: observed\\r\\n\\r\\nHello.\\r\\n' % (user, user))
s.quit()
print('ok')
`;

describe('observability on a real server', () => {
  let srv: TestServer;
  const address = 'watcher@example.com';

  before(async () => {
    // trace: everything the server can log is written, so the password check covers every line
    srv = await startTestServer({ logLevel: 'trace' });
    await srv.addUser(address, PASSWORD);
    await python(IMAP_SCRIPT, [String(srv.port('imaps')), address, PASSWORD, WRONG]);
    await python(POP_SMTP_SCRIPT, [String(srv.port('pop3s')), String(srv.port('smtps')), address, PASSWORD]);
    const web = new ApiClient(srv.port('https'));
    await web.get('/session');
    assert.equal((await web.post('/login', { address, password: WRONG })).status, 401);
    assert.equal((await web.post('/login', { address, password: PASSWORD })).status, 200);
    assert.equal((await web.get('/folders')).status, 200);
    await web.post('/logout');
    // the clients have left; the server notices each close on its own time
    await eventually(() => srv.logged.records().filter((r) => r.msg === 'session ended').length === 4, 'the end of the two IMAP sessions, the POP3 one and the web one');
  });
  after(async () => srv?.close());

  it('/metrics counts logons by front end and outcome, refusals by layer, commands, deliveries, store operations and the process', async () => {
    const m = await scrape(srv);
    assert.equal(sample(m, 'mailwarden_logons_total{frontend="imap",outcome="success"}'), 2, 'LOGIN and AUTHENTICATE PLAIN');
    assert.equal(sample(m, 'mailwarden_logons_total{frontend="imap",outcome="auth"}'), 1);
    assert.equal(sample(m, 'mailwarden_logon_refusals_total{frontend="imap",layer="auth"}'), 1);
    assert.equal(sample(m, 'mailwarden_logons_total{frontend="pop3",outcome="success"}'), 1);
    assert.equal(sample(m, 'mailwarden_logons_total{frontend="smtp",outcome="success"}'), 1);
    assert.equal(sample(m, 'mailwarden_logons_total{frontend="owa",outcome="success"}'), 1);
    assert.equal(sample(m, 'mailwarden_logon_refusals_total{frontend="owa",layer="auth"}'), 1);
    assert.equal(sample(m, 'mailwarden_command_duration_seconds_count{protocol="imap",command="SELECT"}'), 1);
    assert.equal(sample(m, 'mailwarden_command_duration_seconds_count{protocol="pop3",command="STAT"}'), 1);
    assert.equal(sample(m, 'mailwarden_command_duration_seconds_count{protocol="smtp",command="DATA"}'), 1);
    assert.equal(sample(m, 'mailwarden_command_duration_seconds_count{protocol="http",command="GET /owa/api/folders"}'), 1);
    assert.equal(sample(m, 'mailwarden_deliveries_total{result="delivered"}'), 1);
    // every logon reads the credential stamp; only those the credential cache cannot answer run scrypt
    assert.ok((sample(m, 'mailwarden_store_operation_duration_seconds_count{operation="credentialStamp",outcome="ok"}') ?? 0) >= 7);
    assert.ok((sample(m, 'mailwarden_store_operation_duration_seconds_count{operation="verifyPassword",outcome="ok"}') ?? 0) >= 1);
    assert.ok((sample(m, 'mailwarden_store_operation_duration_seconds_count{operation="deliver",outcome="ok"}') ?? 0) >= 1);
    assert.ok((sample(m, 'process_cpu_user_seconds_total') ?? 0) > 0, 'process metrics');
    assert.match(m, /^nodejs_heap_size_used_bytes \d/m);
    // what /metrics showed before prom-client is still there
    assert.equal(sample(m, 'mailwarden_sessions_opened_total{kind="imap"}'), 2);
    assert.match(m, /^# TYPE mailwarden_sessions_opened_total counter$/m);
    assert.match(m, /^mailwarden_connections\{protocol="imap"\} \d+$/m);
  });

  it('every line of a session carries its store session id, from the logon to its end', () => {
    const records = srv.logged.records();
    for (const frontend of ['imap', 'pop3', 'owa']) {
      const logons = records.filter((r) => r.msg === 'logon' && r.frontend === frontend);
      assert.ok(logons.length >= 1, `a logon line for ${frontend}`);
      for (const logon of logons) {
        const session = logon.session as string;
        assert.match(session, /^\S+-\S+$/, 'the store session id');
        if (frontend === 'owa') {
          // a web request after the sign-in logs with the session id too
          assert.ok(records.some((r) => r.msg === 'request' && r.route === 'GET /owa/api/folders' && r.session === session && typeof r.reqId === 'string'));
          assert.ok(records.some((r) => r.msg === 'session ended' && r.session === session && r.reason === 'logout'));
          continue;
        }
        const conn = logon.conn;
        const after = records.slice(records.indexOf(logon)).filter((r) => r.conn === conn);
        assert.ok(after.length >= 2, `${frontend}: lines after the logon`);
        for (const r of after) assert.equal(r.session, session, `${frontend} line ${JSON.stringify(r)}`);
        assert.ok(after.some((r) => r.msg === 'session ended'), `${frontend}: the end of the session is logged`);
      }
    }
    const selectLine = records.find((r) => r.frontend === 'imap' && r.msg === 'command' && r.command === 'SELECT');
    assert.ok(selectLine && typeof selectLine.session === 'string');
  });

  it('no password reaches the log after LOGIN, AUTHENTICATE PLAIN, POP3 PASS, SMTP AUTH PLAIN and web sign-in, right or wrong', () => {
    const text = srv.logged.text();
    const records = srv.logged.records();
    // the test would prove nothing if those logons had left no lines
    assert.ok(records.filter((r) => r.msg === 'logon').length >= 5);
    assert.ok(records.some((r) => r.msg === 'logon refused' && r.user === address));
    for (const secret of [PASSWORD, WRONG]) {
      assert.ok(!text.includes(secret), `${secret} in the log`);
      for (const form of [`\0${address}\0${secret}`, secret]) {
        assert.ok(!text.includes(Buffer.from(form).toString('base64')), `base64 of ${JSON.stringify(form)} in the log`);
      }
    }
    for (const r of records) assert.equal(typeof r.level, 'string');
  });
});

/** The first line a server sends on a fresh plain connection to `port`, with the socket. */
function greeting(port: number): Promise<{ line: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\r\n')) resolve({ line: text.split('\r\n')[0]!, close: () => socket.destroy() });
    });
    socket.on('error', reject);
  });
}

describe('connection refusals of the protocol layer (before any logon)', () => {
  it('an IMAP connection over MaxConnectionFromSingleIP is counted by the setting that refused it, and logged', async () => {
    const srv = await startTestServer();
    try {
      await srv.setSetting('ImapSettings.MaxConnectionFromSingleIP', '1');
      const held = await greeting(srv.port('imap'));
      assert.match(held.line, /^\* OK /);
      const refused = await greeting(srv.port('imap'));
      assert.match(refused.line, /^\* BYE \[UNAVAILABLE\] .*ImapSettings\.MaxConnectionFromSingleIP/);
      refused.close();
      held.close();
      const m = await scrape(srv);
      assert.equal(sample(m, 'mailwarden_connection_refusals_total{protocol="imap",setting="ImapSettings.MaxConnectionFromSingleIP"}'), 1);
      assert.ok(srv.logged.records().some((r) => r.msg === 'connection refused' && r.frontend === 'imap' && r.limit === 1));
    } finally {
      await srv.close();
    }
  });
});
