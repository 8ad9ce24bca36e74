// Exchange Web Services with a real client nobody here wrote: exchangelib (Debian
// python3-exchangelib 4.9), Configuration(service_endpoint=…, auth_type=BASIC), autodiscover off,
// TLS verification off for the test's self-signed certificate. Plus curl for the bare protocol.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ImapFlow } from 'imapflow';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { run } from '../helpers/run.js';
import { explainAccess } from '../../src/access/explain.js';
import type { User } from '../../src/store/types.js';

const CLIENT = resolve('test/ews/exchangelib-client.py');
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-exchangelib is installed

let srv: TestServer;
let alice: User;
let bob: User;
const url = () => `https://127.0.0.1:${srv.port('https')}/EWS/Exchange.asmx`;

type Step = { step: string } & Record<string, unknown>;

async function scenario(name: string, user: string, ...extra: string[]): Promise<Map<string, Step>> {
  const r = await run(PYTHON, [CLIENT, url(), user, 'secret-pw', name, ...extra], { timeoutMs: 240_000 });
  assert.equal(r.status, 0, `exchangelib ${name} failed:\n${r.stderr.slice(-3000)}`);
  const steps = new Map<string, Step>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const s = JSON.parse(line) as Step;
    steps.set(s.step, s);
  }
  return steps;
}

function message(i: number): Buffer {
  return Buffer.from(`From: Bob <bob@example.com>\r\nTo: alice@example.com\r\nSubject: message ${i}\r\nMessage-ID: <m${i}@example.com>\r\n`
    + `Date: Sun, 6 Dec 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody of ${i}\r\n`);
}

before(async () => {
  srv = await startTestServer();
  alice = await srv.addUser('alice@example.com');
  bob = await srv.addUser('bob@example.com');
  const inbox = await srv.ctx.store.getFolder(alice.id, 'INBOX');
  const base = Date.parse('2026-12-01T00:00:00Z');
  await srv.ctx.store.appendMany(alice.id, inbox!.id, Array.from({ length: 500 }, (_, i) => ({ raw: message(i), internalDate: new Date(base + i * 60_000) })));
});
after(async () => srv?.close());

test('curl: an unauthenticated POST gets 401 with the Basic challenge; DOCTYPE and malformed SOAP get SOAP faults', async () => {
  const noAuth = await run('curl', ['-sk', '-i', '-X', 'POST', url(), '-H', 'content-type: text/xml', '--data', '<x/>']);
  assert.match(noAuth.stdout, /^HTTP\/1\.1 401/);
  assert.match(noAuth.stdout, /www-authenticate: Basic realm="/i);
  const xxe = await run('curl', ['-sk', '-i', '-u', 'alice@example.com:secret-pw', '-X', 'POST', url(), '-H', 'content-type: text/xml',
    '--data', '<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>']);
  assert.match(xxe.stdout, /^HTTP\/1\.1 500/);
  assert.match(xxe.stdout, /<faultcode[^>]*>a:ErrorSchemaValidation<\/faultcode>/);
  assert.match(xxe.stdout, /ServerVersionInfo MajorVersion="14" MinorVersion="3"/);
  assert.doesNotMatch(xxe.stdout, /root:/);
  const broken = await run('curl', ['-sk', '-u', 'alice@example.com:secret-pw', '-X', 'POST', url(), '-H', 'content-type: text/xml', '--data', '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>']);
  assert.match(broken.stdout, /ErrorSchemaValidation/);
  assert.doesNotMatch(broken.stdout, /at .*\.js/); // never a stack
  // a default-namespace request (as Thunderbird writes them) and a version this server is not
  const thunderbird = '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>'
    + '<RequestServerVersion xmlns="http://schemas.microsoft.com/exchange/services/2006/types" Version="Exchange2010_SP1"/></soap:Header><soap:Body>'
    + '<GetFolder xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><FolderShape><BaseShape xmlns="http://schemas.microsoft.com/exchange/services/2006/types">Default</BaseShape></FolderShape>'
    + '<FolderIds><DistinguishedFolderId xmlns="http://schemas.microsoft.com/exchange/services/2006/types" Id="inbox"/></FolderIds></GetFolder></soap:Body></soap:Envelope>';
  const tb = await run('curl', ['-sk', '-u', 'alice@example.com:secret-pw', '-X', 'POST', url(), '-H', 'content-type: text/xml', '--data-binary', thunderbird]);
  assert.match(tb.stdout, /<t:DisplayName>Inbox<\/t:DisplayName><t:TotalCount>500<\/t:TotalCount>/);
  const newer = await run('curl', ['-sk', '-u', 'alice@example.com:secret-pw', '-X', 'POST', url(), '-H', 'content-type: text/xml', '--data-binary', thunderbird.replace('Exchange2010_SP1', 'Exchange2016')]);
  assert.match(newer.stdout, /ErrorInvalidServerVersion/);
  // POX Autodiscover gives the EWS URL
  const ad = await run('curl', ['-sk', '-u', 'alice@example.com:secret-pw', '-X', 'POST', `https://127.0.0.1:${srv.port('https')}/autodiscover/autodiscover.xml`, '-H', 'content-type: text/xml', '--data-binary',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@example.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>']);
  assert.ok(ad.stdout.includes(`<EwsUrl>https://127.0.0.1:${srv.port('https')}/EWS/Exchange.asmx</EwsUrl>`), ad.stdout);
});

test('exchangelib: folder tree, sync of 500 messages, read, flag, stale ChangeKey, move, delete', async () => {
  const s = await scenario('mailbox', 'alice@example.com');
  assert.equal(s.get('version')!['build'], '14.3.123.4');
  assert.equal(s.get('version')!['api'], 'Exchange2010_SP2');
  assert.deepEqual(s.get('tree')!['names'], ['Deleted Items', 'Drafts', 'Inbox', 'Junk Email', 'Outbox', 'Sent Items']);
  assert.equal(s.get('sync')!['created'], 500);
  const read = s.get('read')!;
  assert.equal(read['subject'], 'message 0');
  assert.equal(read['is_read'], false);
  assert.equal(read['uid'], 1);
  assert.equal(read['sender'], 'bob@example.com');
  assert.match(String(read['body']), /body of 0/);
  assert.deepEqual({ ...s.get('flag') }, { step: 'flag', is_read: true, flag_status: 2, categories: ['Work'], changekey_changed: true });
  assert.equal(s.get('conflict')!['raised'], true);
  assert.deepEqual(s.get('delta')!['changes'], [['update', 'message 0']]);
  assert.deepEqual(s.get('move')!['in_archive'], ['message 0']);
  assert.equal(s.get('move')!['id_kept'], true);
  assert.deepEqual(s.get('delete')!, { step: 'delete', inbox: 498, archive: 1 });
  assert.deepEqual(s.get('trash')!['trash'], ['message 2']);
  // the store agrees
  const archive = await srv.ctx.store.getFolder(alice.id, 'INBOX/Archive');
  const [m] = await srv.ctx.store.listMessages(alice.id, archive!.id);
  assert.deepEqual([...m!.flags].sort(), ['Work', '\\Flagged', '\\Seen'].sort());
});

test('exchangelib: send with an attachment (SendAndSaveCopy) arrives over IMAP; send from fields; ResolveNames', async () => {
  const s = await scenario('send', 'alice@example.com', 'bob@example.com');
  assert.deepEqual(s.get('sent')!['subjects'], ['report with attachment']);
  assert.deepEqual(s.get('sent')!['attachments'], ['report.pdf']);
  assert.deepEqual(s.get('sent')!['content'], ['%PDF-1.4 test bytes']);
  assert.ok(s.get('sent-fields'));
  assert.deepEqual(s.get('resolve')!['names'], ['bob@example.com']);
  const imap = new ImapFlow({ host: '127.0.0.1', port: srv.port('imaps'), secure: true, auth: { user: 'bob@example.com', pass: 'secret-pw' }, logger: false, tls: { rejectUnauthorized: false } });
  imap.on('error', () => undefined);
  await imap.connect();
  try {
    await imap.mailboxOpen('INBOX');
    const got: Array<{ subject: string; source: string }> = [];
    for await (const m of imap.fetch('1:*', { envelope: true, source: true })) got.push({ subject: m.envelope?.subject ?? '', source: m.source?.toString() ?? '' });
    assert.deepEqual(got.map((g) => g.subject).sort(), ['plain note', 'report with attachment']);
    const withAtt = got.find((g) => g.subject === 'report with attachment')!;
    assert.match(withAtt.source, /filename="report\.pdf"/);
    assert.match(withAtt.source, /JVBERi0xLjQgdGVzdCBieXRlcw==/); // "%PDF-1.4 test bytes"
  } finally {
    await imap.logout();
  }
  void bob;
});

test('exchangelib at the store session limit: ErrorTooManyObjectsOpened, then through once a session is freed', async () => {
  await srv.setSetting('Maximum Allowed Service Sessions Per User', '1', { userId: alice.id });
  const imap = new ImapFlow({ host: '127.0.0.1', port: srv.port('imaps'), secure: true, auth: { user: 'alice@example.com', pass: 'secret-pw' }, logger: false, tls: { rejectUnauthorized: false } });
  imap.on('error', () => undefined);
  await imap.connect(); // holds alice's one service session
  const child = spawn(PYTHON, [CLIENT, url(), 'alice@example.com', 'secret-pw', 'at-the-limit'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const lines = createInterface({ input: child.stdout });
  const steps: Step[] = [];
  const exited = new Promise<number | null>((r) => child.on('close', r));
  try {
    for await (const line of lines) {
      const s = JSON.parse(line) as Step;
      steps.push(s);
      if (s.step === 'refused') {
        // access explain names the same refusal, with the EWS client's answer and the real counts
        const x = await explainAccess(srv.ctx, alice, 'ews');
        assert.equal(x.refusedBy, 'store session limits');
        const store = x.layers.find((l) => l.layer === 'store session limits')!;
        assert.match(store.clientSees ?? '', /^SOAP fault ErrorTooManyObjectsOpened: Server Unavailable\. 15: 1 of 1 service sessions in use for alice@example\.com/);
        assert.deepEqual(store.checks.find((c) => c.setting === 'Maximum Allowed Service Sessions Per User')?.count, 1);
        await imap.logout(); // the session is freed …
        child.stdin.write('go\n'); // … and the client tries again
      }
    }
    assert.equal(await exited, 0, stderr.slice(-2000));
    const refused = steps.find((s) => s.step === 'refused')!;
    assert.match(String(refused['text']), /ErrorTooManyObjectsOpened|Server Unavailable\. 15: 1 of 1 service sessions in use for alice@example\.com/);
    assert.equal(steps.find((s) => s.step === 'retried')!['inbox'], 497);
    const events = await srv.ctx.store.listEvents({ eventId: 9646 });
    assert.ok(events.some((e) => e.user === 'alice@example.com'), 'event 9646 for the refused EWS logon');
  } finally {
    await srv.ctx.store.deleteSetting({ scope: 'user', targetId: alice.id, name: 'Maximum Allowed Service Sessions Per User' });
    await srv.ctx.settings.refresh();
    child.kill();
  }
});

/** Runs a scenario that prints `waitFor`, then calls `act` and lets the script go on; returns its steps. */
async function interactive(name: string, waitFor: string, act: (s: Step) => Promise<void>, user = 'alice@example.com', ...extra: string[]): Promise<Step[]> {
  const child = spawn(PYTHON, [CLIENT, url(), user, 'secret-pw', name, ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((r) => child.on('close', r));
  const steps: Step[] = [];
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      const s = JSON.parse(line) as Step;
      steps.push(s);
      if (s.step === waitFor) {
        await act(s);
        child.stdin.write('go\n');
      }
    }
    assert.equal(await exited, 0, stderr.slice(-2000));
    return steps;
  } finally {
    child.kill();
  }
}

test('exchangelib: a streaming subscription hears a new message (NewMailEvent) and holds one ews session while it listens', async () => {
  let sessionsWhileListening = 0;
  const steps = await interactive('streaming', 'listening', async () => {
    // the stream is opened right after "listening": wait for its session, then deliver
    sessionsWhileListening = await eventually(async () =>
      (await srv.ctx.governor.accounting.list({ userId: alice.id })).filter((s) => s.kind === 'ews').length, 120_000, 'the streaming request');
    // access explain counts the streaming connection's session, and the throttling slot it holds
    const x = await explainAccess(srv.ctx, alice, 'ews');
    const kindCheck = x.layers.find((l) => l.layer === 'store session limits')!.checks.find((c) => c.setting === 'Maximum Allowed EWS Sessions Per User');
    assert.equal(kindCheck?.count, 1);
    assert.equal(x.layers.find((l) => l.layer === 'throttling policy')!.checks[0]!.count, 1);
    await srv.ctx.store.deliver([alice.id], Buffer.from('From: carol@example.net\r\nTo: alice@example.com\r\nSubject: streamed\r\n\r\nhi\r\n'));
  });
  const got = steps.find((s) => s.step === 'new-mail');
  assert.ok(got, JSON.stringify(steps));
  assert.equal(got['subject'], 'streamed');
  assert.ok(sessionsWhileListening >= 1);
});

test('exchangelib: pull subscription (Subscribe, GetEvents, Unsubscribe)', async () => {
  const steps = await interactive('pull', 'subscribed', async () => {
    await srv.ctx.store.deliver([alice.id], Buffer.from('From: carol@example.net\r\nTo: alice@example.com\r\nSubject: pulled\r\n\r\nhi\r\n'));
  });
  const events = steps.find((s) => s.step === 'events')!['events'] as string[];
  assert.ok(events.includes('NewMailEvent') && events.includes('CreatedEvent'), JSON.stringify(events));
});

test('exchangelib: a first sync stopped between pages and resumed by a new client, with new mail, flag changes and deletes in between, ends with exactly the folder', async () => {
  const carol = await srv.addUser('carol@example.com');
  const inbox = (await srv.ctx.store.getFolder(carol.id, 'INBOX'))!;
  const base = Date.parse('2026-12-02T00:00:00Z');
  await srv.ctx.store.appendMany(carol.id, inbox.id, Array.from({ length: 30 }, (_, i) => ({ raw: message(i), internalDate: new Date(base + i * 60_000) })));
  const byUid = async () => new Map((await srv.ctx.store.listMessagePage(carol.id, inbox.id, 0, 1000)).items.map((m) => [m.uid, m]));
  const steps = await interactive('resume', 'paused', async (paused) => {
    assert.equal((paused['ids'] as string[]).length, 10);
    assert.equal(paused['last'], false);
    const now = await byUid();
    // UIDs 1–10 were sent, 11–30 not yet: change some of each, and deliver one
    assert.ok((paused['ids'] as string[]).includes(now.get(3)!.objectId));
    await srv.ctx.store.storeFlags(carol.id, inbox.id, [3, 20], 'add', ['\\Seen']);
    await srv.ctx.store.storeFlags(carol.id, inbox.id, [4], 'add', ['\\Flagged']);
    await srv.ctx.store.removeMessages(carol.id, inbox.id, [5, 25]);
    await srv.ctx.store.deliver([carol.id], message(100));
    // the SyncState is checked: one character changed, or carol's state sent by alice, is refused
    const state = String(paused['state']);
    const i = state.length >> 1;
    const syncWith = (user: string, s: string) => run('curl', ['-sk', '-u', `${user}:secret-pw`, '-X', 'POST', url(), '-H', 'content-type: text/xml', '--data-binary',
      '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
      + '<s:Header><t:RequestServerVersion Version="Exchange2010_SP2"/></s:Header><s:Body><m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
      + `<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId><m:SyncState>${s}</m:SyncState><m:MaxChangesReturned>5</m:MaxChangesReturned></m:SyncFolderItems></s:Body></s:Envelope>`]);
    assert.match((await syncWith('carol@example.com', state.slice(0, i) + (state[i] === 'A' ? 'B' : 'A') + state.slice(i + 1))).stdout, /ResponseCode>ErrorInvalidSyncStateData</);
    assert.match((await syncWith('alice@example.com', state)).stdout, /ResponseCode>ErrorInvalidSyncStateData</);
  }, 'carol@example.com', '7');
  const synced = steps.find((s) => s.step === 'synced')!;
  const items = synced['items'] as Record<string, [string, boolean, number | null]>;
  const now = await byUid();
  assert.equal(now.size, 29);
  const expected = Object.fromEntries([...now.values()].map((m) => [m.objectId, [m.subject, m.flags.includes('\\Seen'), m.flags.includes('\\Flagged') ? 2 : null]]));
  assert.deepEqual(items, expected);
  assert.ok(Number(synced['pages']) >= 4, 'resumed page by page (7 a page)');
});
