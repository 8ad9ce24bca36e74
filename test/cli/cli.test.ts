import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers/tmp.js';
import { cli, serve } from './run-cli.js';

function fresh() {
  const t = tempDir();
  return { ...t, data: join(t.dir, 'data') };
}

test('user add/list/set-password/remove and their bad inputs', () => {
  const t = fresh();
  try {
    let r = cli(['user', 'add', 'alice@example.com', '--password-stdin', '--display-name', 'Alice A', '--data', t.data], 'pw1\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cn=Recipients\/cn=alice/);
    r = cli(['user', 'add', 'alice@example.com', '--password-stdin', '--data', t.data], 'pw2\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mailwarden: a mailbox for alice@example.com exists already\n$/);
    r = cli(['user', 'add', 'not-an-address', '--password-stdin', '--data', t.data], 'pw\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a valid e-mail address/);
    r = cli(['user', 'add', 'bob@example.com', '--data', t.data]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--password-stdin/);
    r = cli(['user', 'add', 'bob@example.com', '--password-stdin', '--database', 'Nope', '--data', t.data], 'pw\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no mailbox database named "Nope"/);
    assert.equal(cli(['database', 'add', 'DB2', '--data', t.data]).code, 0);
    assert.equal(cli(['database', 'add', 'DB2', '--data', t.data]).code, 2);
    r = cli(['user', 'add', 'bob@example.com', '--password-stdin', '--database', 'DB2', '--data', t.data], 'pw\n');
    assert.equal(r.code, 0, r.stderr);
    r = cli(['user', 'list', '--json', '--data', t.data]);
    const users = JSON.parse(r.stdout) as Array<{ address: string; databaseName: string; displayName: string }>;
    assert.deepEqual(users.map((u) => [u.address, u.databaseName]), [['alice@example.com', 'Mailbox Database 01'], ['bob@example.com', 'DB2']]);
    assert.equal(users[0].displayName, 'Alice A');
    assert.equal(cli(['user', 'set-password', 'alice', '--password-stdin', '--data', t.data], 'new\n').code, 0);
    assert.equal(cli(['user', 'set-password', 'nobody', '--password-stdin', '--data', t.data], 'new\n').code, 2);
    assert.equal(cli(['user', 'remove', 'bob@example.com', '--data', t.data]).code, 0);
    r = cli(['user', 'remove', 'bob@example.com', '--data', t.data]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no user "bob@example.com"/);
    assert.equal(cli(['user', 'frobnicate', '--data', t.data]).code, 2);
    assert.equal(cli(['user', 'list', '--bogus', 'x', '--data', t.data]).code, 2);
    // passwords are hashed, never stored or printed
    const db = new Database(join(t.data, 'mailwarden.sqlite'), { readonly: true });
    const hash = (db.prepare('SELECT password_hash FROM users').pluck().get() as string);
    db.close();
    assert.match(hash, /^scrypt\$/);
    assert.ok(!hash.includes('new'));
  } finally {
    t.cleanup();
  }
});

test('settings get/set/unset with scopes, and every bad input changes nothing', () => {
  const t = fresh();
  try {
    cli(['user', 'add', 'alice@example.com', '--password-stdin', '--data', t.data], 'pw\n');
    let r = cli(['settings', 'get', 'Maximum Allowed Service Sessions Per User', '--json', '--data', t.data]);
    assert.equal(JSON.parse(r.stdout).value, 16);
    assert.equal(JSON.parse(r.stdout).source, 'default');
    r = cli(['settings', 'set', 'Maximum Allowed Service Sessions Per User', '20', '--data', t.data]);
    assert.equal(r.code, 0, r.stderr);
    r = cli(['settings', 'set', 'max-service-sessions-per-user', '5', '--user', 'alice@example.com', '--data', t.data]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(cli(['settings', 'get', 'Maximum Allowed Service Sessions Per User', '--json', '--data', t.data]).stdout).value, 20);
    const forAlice = JSON.parse(cli(['settings', 'get', 'Maximum Allowed Service Sessions Per User', '--user', 'alice', '--json', '--data', t.data]).stdout);
    assert.deepEqual([forAlice.value, forAlice.source], [5, 'user']);
    const before = cli(['settings', 'get', '--json', '--data', t.data]).stdout;
    const bad: Array<[string[], RegExp]> = [
      [['settings', 'set', 'No Such Setting', '1'], /unknown setting "No Such Setting"/],
      [['settings', 'set', 'Maximum Allowed Sessions Per User', 'lots'], /needs a whole number/],
      [['settings', 'set', 'Maximum Allowed Sessions Per User', '-1'], /needs a whole number/],
      [['settings', 'set', 'Maximum Allowed Sessions Per User', '0'], /between 1 and/],
      [['settings', 'set', 'Maximum Allowed Sessions Per User', '99999999999'], /between 1 and/],
      [['settings', 'set', 'PopSettings.LoginType', 'Sometimes'], /must be one of SecureLogin/],
      [['settings', 'set', 'PopSettings.MaxConnections', '10', '--user', 'alice'], /server-wide/],
      [['settings', 'set', 'Maximum Allowed Sessions Per User', '10', '--user', 'ghost'], /no user "ghost"/],
      [['settings', 'set', 'Maximum Allowed Sessions Per User', '10', '--database', 'ghost'], /no mailbox database "ghost"/],
      [['settings', 'set', 'Maximum Allowed Sessions Per User'], /missing VALUE/],
    ];
    for (const [args, reason] of bad) {
      r = cli([...args, '--data', t.data]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, reason);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one-line reason');
    }
    assert.equal(cli(['settings', 'get', '--json', '--data', t.data]).stdout, before);
    assert.equal(cli(['settings', 'unset', 'max-service-sessions-per-user', '--user', 'alice', '--data', t.data]).code, 0);
    assert.equal(JSON.parse(cli(['settings', 'get', 'max-service-sessions-per-user', '--user', 'alice', '--json', '--data', t.data]).stdout).value, 20);
    // Exchange spelling
    assert.equal(cli(['Set-PopSettings', '-MaxConnectionsPerUser', '40', '--data', t.data]).code, 0);
    assert.equal(JSON.parse(cli(['settings', 'get', 'PopSettings.MaxConnectionsPerUser', '--json', '--data', t.data]).stdout).value, 40);
    assert.match(cli(['Get-ImapSettings', '--data', t.data]).stdout, /ImapSettings.MaxCommandSize\s+65536/);
  } finally {
    t.cleanup();
  }
});

test('a corrupt file, a foreign SQLite database, a missing or unusable data folder: one-line reason, nothing changed', () => {
  const t = fresh();
  try {
    mkdirSync(t.data);
    const file = join(t.data, 'mailwarden.sqlite');
    writeFileSync(file, 'this is not a database at all, just text'.repeat(100));
    let r = cli(['user', 'list', '--data', t.data]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not a Mailwarden store/);
    assert.match(readFileSync(file, 'utf8'), /^this is not a database/);
    const foreign = new Database(file + '.tmp');
    foreign.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)');
    foreign.close();
    writeFileSync(file, readFileSync(file + '.tmp'));
    r = cli(['user', 'add', 'x@example.com', '--password-stdin', '--data', t.data], 'pw\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /SQLite database of another application/);
    const check = new Database(file, { readonly: true });
    assert.deepEqual(check.prepare("SELECT name FROM sqlite_master WHERE type='table'").pluck().all(), ['accounts']);
    check.close();
    r = cli(['user', 'list', '--data', join(t.dir, 'nowhere')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no data folder/);
    assert.ok(!existsSync(join(t.dir, 'nowhere')));
    writeFileSync(join(t.dir, 'afile'), 'x');
    r = cli(['user', 'add', 'x@example.com', '--password-stdin', '--data', join(t.dir, 'afile', 'data')], 'pw\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot create data folder/);
    if (process.getuid?.() !== 0) {
      // root ignores permission bits, so this case is only meaningful for other users
      const ro = join(t.dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      r = cli(['user', 'add', 'x@example.com', '--password-stdin', '--data', ro], 'pw\n');
      assert.equal(r.code, 2);
      assert.match(r.stderr, /not writable/);
    }
    assert.equal(cli(['frobnicate']).code, 2);
    assert.match(cli(['events', 'list', '--since', 'yesterday-ish', '--data', t.data]).stderr, /--since needs a time/);
  } finally {
    t.cleanup();
  }
});

/** Opens POP3 connections and logs each in; resolves with the server's answer to PASS. */
async function popLogin(port: number, user: string, pw: string): Promise<{ socket: Socket; answer: string }> {
  const socket = new Socket();
  await new Promise<void>((r) => socket.connect(port, '127.0.0.1', () => r()));
  let buf = '';
  const lines: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  socket.on('data', (c) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const w = waiters.shift();
      if (w) w(l); else lines.push(l);
    }
  });
  const next = () => new Promise<string>((r) => (lines.length ? r(lines.shift()!) : waiters.push(r)));
  await next();
  socket.write(`USER ${user}\r\n`);
  await next();
  socket.write(`PASS ${pw}\r\n`);
  return { socket, answer: await next() };
}

test('serve: a running server takes settings live; sessions list/kill, events, access explain through the CLI', async () => {
  const t = fresh();
  cli(['user', 'add', 'alice@example.com', '--password-stdin', '--data', t.data], 'pw\n');
  cli(['settings', 'set', 'PopSettings.LoginType', 'PlainTextLogin', '--data', t.data]);
  const server = await serve(t.data);
  const held: Socket[] = [];
  try {
    assert.match(server.out, /pop3\s+127\.0\.0\.1:\d+/);
    assert.match(server.out, /user add alice@example.com --password-stdin/);
    const port = server.port('pop3');
    for (let i = 0; i < 16; i++) {
      const c = await popLogin(port, 'alice@example.com', 'pw');
      assert.match(c.answer, /^\+OK/);
      held.push(c.socket);
    }
    const refused = await popLogin(port, 'alice@example.com', 'pw');
    assert.equal(refused.answer, '-ERR [IN-USE] Server Unavailable. 15: 16 of 16 service sessions in use for alice@example.com');
    refused.socket.destroy();
    let r = cli(['sessions', 'list', '--json', '--data', t.data]);
    const sessions = JSON.parse(r.stdout) as Array<{ id: string; kind: string; user: string }>;
    assert.equal(sessions.length, 16);
    assert.ok(sessions.every((s) => s.kind === 'pop3' && s.user === 'alice@example.com'));
    r = cli(['access', 'explain', 'alice@example.com', '--protocol', 'pop3', '--data', t.data]);
    assert.match(r.stdout, /REFUSED by store session limits/);
    assert.match(r.stdout, /Raising PopSettings.MaxConnectionsPerUser or the throttling policy does not help/);
    assert.match(r.stdout, /refusal: store by Maximum Allowed Service Sessions Per User, 16 of 16/);
    r = cli(['access', 'explain', 'alice@example.com', '--protocol', 'pop3', '--from', '::ffff:127.0.0.1', '--data', t.data]);
    assert.match(r.stdout, /1\. brute-force guard: passes/);
    r = cli(['access', 'explain', 'alice@example.com', '--protocol', 'pop3', '--from', '127.0.0.1', '--password-stdin', '--data', t.data], 'not-pw\n');
    assert.match(r.stdout, /REFUSED by password/);
    assert.match(r.stdout, /client sees: -ERR \[AUTH\] Authentication failed/);
    assert.equal(cli(['access', 'explain', 'alice@example.com', '--protocol', 'pop3', '--from', 'nowhere', '--data', t.data]).code, 2);
    // the article's note: raising the per-protocol limit alone does not help
    assert.equal(cli(['settings', 'set', 'PopSettings.MaxConnectionsPerUser', '100', '--data', t.data]).code, 0);
    const still = await popLogin(port, 'alice', 'pw');
    assert.match(still.answer, /^-ERR \[IN-USE\] Server Unavailable\. 15: 16 of 16/);
    still.socket.destroy();
    r = cli(['settings', 'set', 'Maximum Allowed Service Sessions Per User', '20', '--data', t.data]);
    assert.match(r.stdout, /no restart needed/);
    const seventeenth = await popLogin(port, 'alice', 'pw');
    assert.match(seventeenth.answer, /^\+OK/);
    held.push(seventeenth.socket);
    const events = JSON.parse(cli(['events', 'list', '--id', '9646', '--json', '--data', t.data]).stdout) as Array<{ count: number }>;
    // two refusals: one event carrying both, or (when a loaded machine took over a minute
    // between them: the window is the real clock's in a spawned server) one event each
    assert.ok(events.length === 1 || events.length === 2, `${events.length} events`);
    assert.equal(events.reduce((n: number, e: { count: number }) => n + e.count, 0), 2);
    r = cli(['events', 'export', '--id', '9646', '--format', 'xml', '--data', t.data]);
    assert.match(r.stdout, /<EventID Qualifiers="49158">9646<\/EventID>/);
    // kill one: the client is disconnected and the count drops
    const victim = sessions[0].id;
    r = cli(['sessions', 'kill', victim, '--data', t.data]);
    assert.equal(r.code, 0, r.stderr);
    r = cli(['sessions', 'list', '--json', '--data', t.data]);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 16);
    assert.equal(cli(['sessions', 'kill', victim, '--data', t.data]).code, 2);
    assert.match(cli(['Get-LogonStatistics', '-Identity', 'alice', '--data', t.data]).stdout, /16 sessions/);
  } finally {
    for (const s of held) s.destroy();
    await server.stop();
    t.cleanup();
  }
  // without a server: sessions list says so, explain uses zero counts
  const t2 = fresh();
  try {
    cli(['user', 'add', 'bob@example.com', '--password-stdin', '--data', t2.data], 'pw\n');
    assert.match(cli(['sessions', 'list', '--data', t2.data]).stdout, /no server running/);
    assert.match(cli(['access', 'explain', 'bob', '--protocol', 'imap', '--data', t2.data]).stdout, /ALLOWED/);
    assert.equal(cli(['access', 'explain', 'bob', '--protocol', 'smtp', '--data', t2.data]).code, 2);
    assert.equal(cli(['access', 'explain', 'ghost', '--protocol', 'imap', '--data', t2.data]).code, 2);
  } finally {
    t2.cleanup();
  }
});
