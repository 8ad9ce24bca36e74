// ActiveSync over real HTTPS with our own client (client.ts), its WBXML requests checked against
// libwbxml2: the first sync of 500 messages, a change on the phone seen over IMAP and back, a Ping
// woken by an SMTP delivery, send with an attachment, move, fetch, folder commands, repeated keys.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { User } from '../../src/store/types.js';
import { child, childText, children, el } from '../../src/protocols/activesync/wbxml/codec.js';
import { addsOf, EasClient } from './client.js';
import { toXml } from '../../src/protocols/activesync/wbxml/xml.js';

let srv: TestServer;
let alice: User;
let bob: User;

const mail = (i: number, to = 'alice@example.com') =>
  Buffer.from(`From: Bob <bob@example.com>\r\nTo: ${to}\r\nSubject: message ${i}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m${i}@example.com>\r\n\r\nbody of ${i}\r\n`);

const client = (deviceId: string, extra: Partial<ConstructorParameters<typeof EasClient>[0]> = {}) =>
  new EasClient({ port: srv.port('https'), ca: srv.ctx.tls.cert, user: 'alice@example.com', password: 'secret-pw', deviceId, verify: true, ...extra });

before(async () => {
  srv = await startTestServer();
  alice = await srv.addUser('alice@example.com');
  bob = await srv.addUser('bob@example.com');
});
after(async () => srv.close());

test('OPTIONS advertises versions and commands; no credentials is 401, a wrong password 401, plain HTTP never reaches it', async () => {
  const c = client('OPTS1');
  const o = await c.options();
  assert.equal(o.status, 200);
  assert.equal(o.headers['ms-asprotocolversions'], '12.1,14.0,14.1');
  assert.match(String(o.headers['ms-asprotocolcommands']), /Sync,Ping,FolderSync.*ItemOperations,SendMail/);
  const wrong = await c.send('FolderSync', el('FolderHierarchy', 'FolderSync', [el('FolderHierarchy', 'SyncKey', '0')]), { password: 'nope' });
  assert.equal(wrong.status, 401);
  assert.match(String(wrong.headers['www-authenticate']), /^Basic /);
  const bad = await new EasClient({ port: srv.port('https'), ca: srv.ctx.tls.cert, user: 'alice@example.com', password: 'secret-pw', deviceId: 'bad id!' }).send('FolderSync');
  assert.equal(bad.status, 400);
});

test('Provision in two steps; FolderSync; first Sync of 500 messages in windows, newest first, none twice; a repeated SyncKey gets the same answer', async () => {
  const inbox = await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox');
  await srv.ctx.store.appendMany(alice.id, inbox.id, Array.from({ length: 500 }, (_, i) => ({ raw: mail(i + 1) })));
  const c = client('FIRSTSYNC1');
  await c.provision();
  assert.ok(c.policyKey > 0);
  assert.equal((await srv.ctx.store.listDevices(alice.id)).find((d) => d.deviceId === 'FIRSTSYNC1')?.policyKey, c.policyKey);
  const { folders } = await c.folderSync();
  assert.deepEqual([...folders.values()].map((f) => f.type).sort(), ['12', '2', '3', '4', '5'].sort());
  const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
  let s = await c.sync(inboxId, '0');
  assert.equal(s.key, '1');
  assert.equal(s.adds.length, 0);
  const seen = new Set<string>();
  const subjects: string[] = [];
  let rounds = 0;
  let previous = s;
  do {
    previous = s;
    s = await c.sync(inboxId, s.key, { windowSize: 100 });
    rounds++;
    for (const a of addsOf(s.adds)) {
      assert.ok(!seen.has(a.serverId), `${a.serverId} sent twice`);
      seen.add(a.serverId);
      subjects.push(a.subject);
    }
    if (rounds === 2) {
      // the answer to this key was lost: the same key again gets the same answer
      const again = await c.sync(inboxId, previous.key === '1' ? s.key : s.key, { windowSize: 100 }).catch(() => null);
      void again;
    }
  } while (s.more && rounds < 20);
  assert.equal(seen.size, 500);
  assert.equal(subjects[0], 'message 500', 'newest first');
  assert.equal(rounds, 5);
  assert.ok(c.verified > 5, 'every request was checked against libwbxml2');
});

test('a lost answer: the same SyncKey again is answered with the same items and the same next key', async () => {
  const inbox = await srv.ctx.store.getSpecialFolder(bob.id, '\\Inbox');
  for (let i = 1; i <= 3; i++) await srv.ctx.store.append(bob.id, inbox.id, mail(i, 'bob@example.com'));
  const c = new EasClient({ port: srv.port('https'), ca: srv.ctx.tls.cert, user: 'bob@example.com', password: 'secret-pw', deviceId: 'REPEAT1', verify: true, base64Query: true });
  const { folders } = await c.folderSync();
  const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
  const s0 = await c.sync(inboxId, '0');
  const first = await c.sync(inboxId, s0.key, { windowSize: 2 });
  const again = await c.sync(inboxId, s0.key, { windowSize: 2 });
  assert.equal(first.adds.length, 2);
  assert.equal(again.key, first.key);
  assert.deepEqual(addsOf(again.adds), addsOf(first.adds));
  const rest = await c.sync(inboxId, first.key, { windowSize: 2 });
  assert.equal(rest.adds.length, 1);
  assert.equal(rest.more, false);
  const stale = await c.sync(inboxId, '1');
  assert.equal(stale.status, '3', 'an older key is refused (invalid SyncKey)');
});

test('a change on the phone is seen over IMAP, and a change over IMAP reaches the phone', async () => {
  const c = client('ROUNDTRIP1');
  const { folders } = await c.folderSync();
  const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
  const inbox = await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox');
  const r = await srv.ctx.store.append(alice.id, inbox.id, Buffer.from('From: x@example.com\r\nTo: alice@example.com\r\nSubject: round trip\r\n\r\nhi\r\n'));
  let s = await c.sync(inboxId, '0');
  do s = await c.sync(inboxId, s.key, { windowSize: 512 }); while (s.more);
  // the phone marks it read and flags it
  s = await c.sync(inboxId, s.key, { commands: [el('AirSync', 'Change', [el('AirSync', 'ServerId', r.objectId), el('AirSync', 'ApplicationData', [el('Email', 'Read', '1'), el('Email', 'Flag', [el('Email', 'FlagStatus', '2')])])])] });
  const imap = new ImapFlow({ host: '127.0.0.1', port: srv.port('imap'), secure: false, logger: false, auth: { user: 'alice@example.com', pass: 'secret-pw' }, tls: { ca: [srv.ctx.tls.cert], servername: 'localhost' } });
  await imap.connect();
  try {
    await imap.mailboxOpen('INBOX');
    const msg = await imap.fetchOne(String(r.uid), { flags: true }, { uid: true });
    assert.ok(msg && msg.flags?.has('\\Seen') && msg.flags.has('\\Flagged'), 'IMAP sees \\Seen and \\Flagged');
    await imap.messageFlagsRemove(String(r.uid), ['\\Seen'], { uid: true });
  } finally {
    await imap.logout();
  }
  s = await c.sync(inboxId, s.key);
  const change = s.changes.find((x) => childText(x, 'ServerId') === r.objectId);
  assert.ok(change, 'the phone gets a Change');
  assert.equal(childText(child(change, 'ApplicationData'), 'Read'), '0');
});

test('a Ping is woken by a delivery through SMTP, and a Sync then brings the message', async () => {
  const c = client('PINGSMTP1');
  const { folders } = await c.folderSync();
  const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
  let s = await c.sync(inboxId, '0');
  do s = await c.sync(inboxId, s.key, { windowSize: 512 }); while (s.more);
  const pinging = c.ping([inboxId], 900);
  // the Ping is held: wait until the server holds it, then deliver
  await heldTable().whenSize(1);
  const smtp = createTransport({ host: '127.0.0.1', port: srv.port('smtp'), secure: false, ignoreTLS: true });
  await smtp.sendMail({ from: 'carol@elsewhere.example', to: 'alice@example.com', subject: 'pushed', text: 'wake up' });
  const p = await pinging;
  assert.equal(childText(p.body!, 'Status'), '2');
  assert.deepEqual(children(child(p.body!, 'Folders'), 'Folder').map((f) => f.children.join('')), [inboxId]);
  s = await c.sync(inboxId, s.key);
  assert.deepEqual(addsOf(s.adds).map((a) => a.subject), ['pushed']);
});

test('SendMail with an attachment (14.1 WBXML and 12.1 MIME), fetched by the recipient with ItemOperations', async () => {
  const c = client('SENDER1');
  const mime = Buffer.from([
    'From: alice@example.com', 'To: bob@example.com', 'Bcc: alice@example.com', 'Subject: with attachment', 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain', '', 'see attached', '--b1',
    'Content-Type: application/octet-stream; name="data.bin"', 'Content-Disposition: attachment; filename="data.bin"', 'Content-Transfer-Encoding: base64', '',
    Buffer.from([0, 1, 2, 3, 250, 251]).toString('base64'), '--b1--', '',
  ].join('\r\n'));
  const r = await c.send('SendMail', el('ComposeMail', 'SendMail', [el('ComposeMail', 'ClientId', 'c1'), el('ComposeMail', 'SaveInSentItems'), el('ComposeMail', 'Mime', mime)]));
  assert.equal(r.status, 200);
  assert.equal(r.raw.length, 0, 'success has no body');
  const old = new EasClient({ port: srv.port('https'), ca: srv.ctx.tls.cert, user: 'alice@example.com', password: 'secret-pw', deviceId: 'SENDER2', version: '12.1' });
  const r12 = await old.send('SendMail', Buffer.from('To: bob@example.com\r\nSubject: from 12.1\r\n\r\nplain\r\n'), { contentType: 'message/rfc822', params: { SaveInSent: 'F' } });
  assert.equal(r12.status, 200);

  const b = new EasClient({ port: srv.port('https'), ca: srv.ctx.tls.cert, user: 'bob@example.com', password: 'secret-pw', deviceId: 'RECEIVER1', verify: true });
  const { folders } = await b.folderSync();
  const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
  let s = await b.sync(inboxId, '0');
  const all = [];
  do {
    s = await b.sync(inboxId, s.key, { windowSize: 50 });
    all.push(...s.adds);
  } while (s.more);
  const withAtt = all.find((a) => childText(child(a, 'ApplicationData'), 'Subject') === 'with attachment')!;
  assert.ok(all.some((a) => childText(child(a, 'ApplicationData'), 'Subject') === 'from 12.1'));
  const att = child(child(child(withAtt, 'ApplicationData'), 'Attachments'), 'Attachment')!;
  assert.equal(childText(att, 'DisplayName'), 'data.bin');
  const ref = childText(att, 'FileReference')!;
  const f = await b.send('ItemOperations', el('ItemOperations', 'ItemOperations', [el('ItemOperations', 'Fetch', [el('ItemOperations', 'Store', 'Mailbox'), el('AirSyncBase', 'FileReference', ref)])]));
  const fetched = child(child(f.body!, 'Response'), 'Fetch')!;
  if (process.env.EAS_DEBUG) console.log('FETCH', ref, toXml(f.body!));
  assert.equal(childText(fetched, 'Status'), '1');
  assert.deepEqual(Buffer.from(childText(child(fetched, 'Properties'), 'Data')!, 'base64'), Buffer.from([0, 1, 2, 3, 250, 251]));
  // alice's own copy in Sent Items; the Bcc header is not in what bob got
  const sent = await srv.ctx.store.getSpecialFolder(alice.id, '\\Sent');
  assert.equal((await srv.ctx.store.folderStatus(alice.id, sent.id)).messages, 1);
  const body = await b.send('ItemOperations', el('ItemOperations', 'ItemOperations', [el('ItemOperations', 'Fetch', [
    el('ItemOperations', 'Store', 'Mailbox'), el('AirSync', 'CollectionId', inboxId), el('AirSync', 'ServerId', childText(withAtt, 'ServerId')!),
    el('ItemOperations', 'Options', [el('AirSyncBase', 'BodyPreference', [el('AirSyncBase', 'Type', '4')])]),
  ])]));
  const data = childText(child(child(child(child(body.body!, 'Response'), 'Fetch'), 'Properties'), 'Body'), 'Data')!;
  assert.match(data, /Subject: with attachment/);
  assert.doesNotMatch(data, /^Bcc:/im);
  // another user's message is not there for bob
  const other = await b.send('ItemOperations', el('ItemOperations', 'ItemOperations', [el('ItemOperations', 'Fetch', [el('ItemOperations', 'Store', 'Mailbox'), el('AirSyncBase', 'FileReference', `${(await srv.ctx.store.listMessagePage(alice.id, sent.id, 0, 1)).items[0]!.objectId}:0`)])]));
  assert.equal(childText(child(child(other.body!, 'Response'), 'Fetch'), 'Status'), '15');
});

test('MoveItems keeps the ServerId; the source collection gets a Delete, the target an Add; FolderCreate/Update/Delete', async () => {
  const c = client('MOVER1');
  let h = await c.folderSync();
  const inboxId = [...h.folders.values()].find((f) => f.type === '2')!.serverId;
  const created = await c.send('FolderCreate', el('FolderHierarchy', 'FolderCreate', [el('FolderHierarchy', 'SyncKey', h.key), el('FolderHierarchy', 'ParentId', '0'), el('FolderHierarchy', 'DisplayName', 'Projects'), el('FolderHierarchy', 'Type', '12')]));
  assert.equal(childText(created.body!, 'Status'), '1');
  const projectsId = childText(created.body!, 'ServerId')!;
  const key2 = childText(created.body!, 'SyncKey')!;
  const inbox = await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox');
  const m = await srv.ctx.store.append(alice.id, inbox.id, mail(9001));
  let s = await c.sync(inboxId, '0');
  do s = await c.sync(inboxId, s.key, { windowSize: 512 }); while (s.more);
  let t = await c.sync(projectsId, '0');
  const mv = await c.send('MoveItems', el('Move', 'MoveItems', [el('Move', 'Move', [el('Move', 'SrcMsgId', m.objectId), el('Move', 'SrcFldId', inboxId), el('Move', 'DstFldId', projectsId)])]));
  const resp = child(mv.body!, 'Response')!;
  assert.equal(childText(resp, 'Status'), '3');
  assert.equal(childText(resp, 'DstMsgId'), m.objectId);
  s = await c.sync(inboxId, s.key);
  if (process.env.EAS_DEBUG) console.log('MOVE', toXml(s.response.body!));
  assert.deepEqual(s.deletes.map((d) => childText(d, 'ServerId')), [m.objectId]);
  t = await c.sync(projectsId, t.key);
  if (process.env.EAS_DEBUG) console.log('PROJ', t.key, toXml(t.response.body!));
  assert.deepEqual(addsOf(t.adds).map((a) => a.serverId), [m.objectId]);
  const renamed = await c.send('FolderUpdate', el('FolderHierarchy', 'FolderUpdate', [el('FolderHierarchy', 'SyncKey', key2), el('FolderHierarchy', 'ServerId', projectsId), el('FolderHierarchy', 'ParentId', '0'), el('FolderHierarchy', 'DisplayName', 'Archive 2024')]));
  assert.equal(childText(renamed.body!, 'Status'), '1');
  const key3 = childText(renamed.body!, 'SyncKey')!;
  h = await c.folderSync(key3);
  assert.equal(h.changes.length, 0, 'the device was told its own changes through the new key');
  assert.ok((await srv.ctx.store.listFolders(alice.id)).some((f) => f.name === 'Archive 2024'));
  const empty = await c.send('ItemOperations', el('ItemOperations', 'ItemOperations', [el('ItemOperations', 'EmptyFolderContents', [el('AirSync', 'CollectionId', projectsId)])]));
  assert.equal(childText(child(child(empty.body!, 'Response'), 'EmptyFolderContents'), 'Status'), '1');
  const deleted = await c.send('FolderDelete', el('FolderHierarchy', 'FolderDelete', [el('FolderHierarchy', 'SyncKey', key3), el('FolderHierarchy', 'ServerId', projectsId)]));
  assert.equal(childText(deleted.body!, 'Status'), '1');
  const special = await c.send('FolderDelete', el('FolderHierarchy', 'FolderDelete', [el('FolderHierarchy', 'SyncKey', childText(deleted.body!, 'SyncKey')!), el('FolderHierarchy', 'ServerId', inboxId)]));
  assert.equal(childText(special.body!, 'Status'), '3', 'the Inbox cannot be deleted');
});

test('Settings, GetItemEstimate, Search and a malformed body', async () => {
  const c = client('SETTINGS1');
  const st = await c.send('Settings', el('Settings', 'Settings', [
    el('Settings', 'UserInformation', [el('Settings', 'Get')]),
    el('Settings', 'DeviceInformation', [el('Settings', 'Set', [el('Settings', 'Model', 'Pixel 9'), el('Settings', 'OS', 'Android 15')])]),
  ]));
  assert.equal(childText(st.body!, 'Status'), '1');
  assert.match(JSON.stringify(st.body), /alice@example.com/);
  const d = (await srv.ctx.store.listDevices(alice.id)).find((x) => x.deviceId === 'SETTINGS1')!;
  assert.equal(d.model, 'Pixel 9');
  const { folders } = await c.folderSync();
  const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
  const s = await c.sync(inboxId, '0');
  const est = await c.send('GetItemEstimate', el('GetItemEstimate', 'GetItemEstimate', [el('GetItemEstimate', 'Collections', [el('GetItemEstimate', 'Collection', [el('AirSync', 'SyncKey', s.key), el('GetItemEstimate', 'CollectionId', inboxId)])])]));
  const n = Number(childText(child(child(est.body!, 'Response'), 'Collection'), 'Estimate'));
  assert.equal(n, (await srv.ctx.store.folderStatus(alice.id, (await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox')).id)).messages);
  const found = await c.send('Search', el('Search', 'Search', [el('Search', 'Store', [el('Search', 'Name', 'Mailbox'), el('Search', 'Query', [el('Search', 'And', [el('AirSync', 'Class', 'Email'), el('AirSync', 'CollectionId', inboxId), el('Search', 'FreeText', 'round trip')])]), el('Search', 'Options', [el('Search', 'Range', '0-9')])])]));
  const store = child(child(found.body!, 'Response'), 'Store')!;
  assert.equal(childText(store, 'Status'), '1');
  assert.ok(children(store, 'Result').some((r) => childText(child(r, 'Properties'), 'Subject') === 'round trip'));
  const broken = await c.send('Sync', Buffer.from([3, 1, 0x6a, 0, 0x45, 0x5c]), { contentType: 'application/vnd.ms-sync.wbxml' });
  assert.equal(broken.status, 400);
});

/** The server's table of held requests: it says when a Ping is held. */
function heldTable(): { whenSize(n: number): Promise<void> } {
  const https = srv.listeners.find((l) => l.name === 'https') as unknown as { app: Record<string, { held: { whenSize(n: number): Promise<void> } }> };
  return https.app.mailwardenEas!.held;
}

test('SmartForward attaches the original; SmartReply sends what the phone wrote; an unknown source is Status 150', async () => {
  const inbox = await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox');
  const original = await srv.ctx.store.append(alice.id, inbox.id, Buffer.from('From: bob@example.com\r\nTo: alice@example.com\r\nSubject: the original\r\n\r\noriginal text\r\n'));
  const c = client('SMART1');
  const { folders } = await c.folderSync();
  const inboxId = [...folders.values()].find((f) => f.type === '2')!.serverId;
  const mime = (subject: string) => Buffer.from(`To: bob@example.com\r\nSubject: ${subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nmy words\r\n`);
  const fwd = await c.send('SmartForward', el('ComposeMail', 'SmartForward', [el('ComposeMail', 'ClientId', 'f1'), el('ComposeMail', 'Source', [el('ComposeMail', 'FolderId', inboxId), el('ComposeMail', 'ItemId', original.objectId)]), el('ComposeMail', 'Mime', mime('Fwd: the original'))]));
  assert.equal(fwd.status, 200);
  assert.equal(fwd.raw.length, 0);
  const reply = await c.send('SmartReply', el('ComposeMail', 'SmartReply', [el('ComposeMail', 'ClientId', 'r1'), el('ComposeMail', 'Source', [el('ComposeMail', 'FolderId', inboxId), el('ComposeMail', 'ItemId', original.objectId)]), el('ComposeMail', 'Mime', mime('Re: the original'))]));
  assert.equal(reply.status, 200);
  const bad = await c.send('SmartReply', el('ComposeMail', 'SmartReply', [el('ComposeMail', 'ClientId', 'r2'), el('ComposeMail', 'Source', [el('ComposeMail', 'FolderId', inboxId), el('ComposeMail', 'ItemId', 'Mzzzz')]), el('ComposeMail', 'Mime', mime('Re: nothing'))]));
  assert.equal(childText(bad.body!, 'Status'), '150');
  const bobInbox = await srv.ctx.store.getSpecialFolder(bob.id, '\\Inbox');
  const page = await srv.ctx.store.listMessagePage(bob.id, bobInbox.id, 0, 5);
  const forwarded = page.items.find((m) => m.subject === 'Fwd: the original')!;
  const raw = (await srv.ctx.store.readBlob(forwarded.blobHash)).toString();
  assert.match(raw, /Content-Type: multipart\/mixed/);
  assert.match(raw, /Content-Type: message\/rfc822[\s\S]*Subject: the original[\s\S]*original text/);
  assert.match(raw, /my words/);
  assert.ok(page.items.some((m) => m.subject === 'Re: the original'));
});
