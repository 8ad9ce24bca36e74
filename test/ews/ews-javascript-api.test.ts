// Exchange Web Services from Node with ews-javascript-api (the EWS Managed API's port, npm),
// and IMAP and EWS on one mailbox at once: a flag set over EWS is seen by an IMAP IDLE client
// (imapflow), and a flag set over IMAP reaches an EWS subscription.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { ImapFlow } from 'imapflow';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { User } from '../../src/store/types.js';

const require = createRequire(import.meta.url);
const ews = require('ews-javascript-api') as typeof import('ews-javascript-api');
const { XhrApi } = require('@ewsjs/xhr') as { XhrApi: new (o: { rejectUnauthorized: boolean }) => import('ews-javascript-api').IXHRApi };

let srv: TestServer;
let alice: User;

function service(user = 'alice@example.com'): InstanceType<typeof ews.ExchangeService> {
  const svc = new ews.ExchangeService(ews.ExchangeVersion.Exchange2010_SP2);
  svc.Credentials = new ews.WebCredentials(user, 'secret-pw');
  svc.Url = new ews.Uri(`https://127.0.0.1:${srv.port('https')}/EWS/Exchange.asmx`);
  return svc;
}

function imapClient(user: string): ImapFlow {
  const c = new ImapFlow({ host: '127.0.0.1', port: srv.port('imaps'), secure: true, auth: { user, pass: 'secret-pw' }, logger: false, tls: { rejectUnauthorized: false } });
  c.on('error', () => undefined);
  return c;
}

before(async () => {
  ews.ConfigurationApi.ConfigureXHR(new XhrApi({ rejectUnauthorized: false })); // the test's self-signed certificate
  srv = await startTestServer();
  alice = await srv.addUser('alice@example.com');
  await srv.addUser('bob@example.com');
  const inbox = await srv.ctx.store.getFolder(alice.id, 'INBOX');
  await srv.ctx.store.appendMany(alice.id, inbox!.id, Array.from({ length: 30 }, (_, i) => ({
    raw: Buffer.from(`From: Bob <bob@example.com>\r\nTo: alice@example.com\r\nSubject: note ${i}\r\n\r\nbody ${i}\r\n`),
    internalDate: new Date(Date.parse('2026-12-01T00:00:00Z') + i * 60_000),
  })));
});
after(async () => srv?.close());

test('ews-javascript-api: folder tree, paged sync, bind with body, update (IsRead, PR_FLAG_STATUS), move, delete', async () => {
  const svc = service();
  const view = new ews.FolderView(100);
  view.Traversal = ews.FolderTraversal.Deep;
  const folders = await svc.FindFolders(ews.WellKnownFolderName.MsgFolderRoot, view);
  assert.deepEqual(folders.Folders.map((f) => f.DisplayName).sort(), ['Deleted Items', 'Drafts', 'Inbox', 'Junk Email', 'Sent Items']);
  const inbox = await ews.Folder.Bind(svc, ews.WellKnownFolderName.Inbox);
  assert.equal(inbox.TotalCount, 30);
  // sync in pages of 7
  let state: string | null = null;
  let created = 0;
  for (;;) {
    const page: { Count: number; SyncState: string; MoreChangesAvailable: boolean } = await svc.SyncFolderItems(new ews.FolderId(ews.WellKnownFolderName.Inbox), ews.PropertySet.IdOnly, [], 7, ews.SyncFolderItemsScope.NormalItems, state as unknown as string);
    created += page.Count;
    state = page.SyncState;
    if (!page.MoreChangesAvailable) break;
  }
  assert.equal(created, 30);
  const found = await svc.FindItems(ews.WellKnownFolderName.Inbox, new ews.ItemView(5));
  assert.deepEqual(found.Items.map((i) => i.Subject), ['note 29', 'note 28', 'note 27', 'note 26', 'note 25']);
  const flagStatus = new ews.ExtendedPropertyDefinition(0x1090, ews.MapiPropertyType.Integer);
  const shape = new ews.PropertySet(ews.BasePropertySet.FirstClassProperties, [flagStatus, ews.ItemSchema.Body]);
  const msg = await ews.EmailMessage.Bind(svc, found.Items[0]!.Id, shape);
  assert.equal(msg.IsRead, false);
  assert.match(msg.Body.Text, /body 29/);
  msg.IsRead = true;
  msg.SetExtendedProperty(flagStatus, 2);
  await msg.Update(ews.ConflictResolutionMode.AutoResolve);
  const again = await ews.EmailMessage.Bind(svc, found.Items[0]!.Id, shape);
  assert.equal(again.IsRead, true);
  const values: unknown[] = [];
  (again.ExtendedProperties as unknown as { items: Array<{ Value: unknown }> }).items.forEach((p) => values.push(p.Value));
  assert.deepEqual(values.map(Number), [2]);
  // delta sync: the one change
  const delta = await svc.SyncFolderItems(new ews.FolderId(ews.WellKnownFolderName.Inbox), ews.PropertySet.IdOnly, [], 100, ews.SyncFolderItemsScope.NormalItems, state as unknown as string);
  assert.equal(delta.Count, 1);
  assert.equal(delta._getItem(0).ChangeType, ews.ChangeType.Update);
  await again.Move(ews.WellKnownFolderName.DeletedItems);
  const trash = await ews.Folder.Bind(svc, ews.WellKnownFolderName.DeletedItems);
  assert.equal(trash.TotalCount, 1);
  await found.Items[1]!.Delete(ews.DeleteMode.HardDelete);
  assert.equal((await ews.Folder.Bind(svc, ews.WellKnownFolderName.Inbox)).TotalCount, 28);
});

test('ews-javascript-api: send with an attachment (CreateItem, CreateAttachment, SendItem) arrives over IMAP', async () => {
  const svc = service();
  const m = new ews.EmailMessage(svc);
  m.Subject = 'from the managed api';
  m.Body = new ews.MessageBody('see attached');
  m.ToRecipients.Add('bob@example.com');
  m.Attachments.AddFileAttachment('notes.txt', Buffer.from('attached text').toString('base64'));
  await m.SendAndSaveCopy();
  const imap = imapClient('bob@example.com');
  await imap.connect();
  try {
    await imap.mailboxOpen('INBOX');
    const got: string[] = [];
    for await (const x of imap.fetch('1:*', { source: true })) got.push(x.source?.toString() ?? '');
    assert.equal(got.length, 1);
    assert.match(got[0]!, /Subject: from the managed api/);
    assert.match(got[0]!, /filename="notes\.txt"/);
    assert.match(got[0]!, /YXR0YWNoZWQgdGV4dA==/); // "attached text"
  } finally {
    await imap.logout();
  }
  const sent = await svc.FindItems(ews.WellKnownFolderName.SentItems, new ews.ItemView(10));
  assert.deepEqual(sent.Items.map((i) => i.Subject), ['from the managed api']);
  const drafts = await ews.Folder.Bind(svc, ews.WellKnownFolderName.Drafts);
  assert.equal(drafts.TotalCount, 0); // the draft it sent from is gone
});

test('IMAP and EWS on one mailbox: a flag set over EWS is seen by IDLE, one set over IMAP reaches an EWS subscription', async () => {
  const svc = service();
  const imap = imapClient('alice@example.com');
  await imap.connect();
  try {
    await imap.mailboxOpen('INBOX');
    const seen = new Promise<{ uid: number; flags: Set<string> }>((resolve) => {
      imap.on('flags', (d: { uid?: number; flags: Set<string> }) => { if (d.flags.has('\\Flagged')) resolve({ uid: d.uid ?? 0, flags: d.flags }); });
    });
    void imap.idle(); // IDLE until the flag arrives
    const found = await svc.FindItems(ews.WellKnownFolderName.Inbox, new ews.ItemView(1));
    const flagStatus = new ews.ExtendedPropertyDefinition(0x1090, ews.MapiPropertyType.Integer);
    const item = await ews.EmailMessage.Bind(svc, found.Items[0]!.Id, new ews.PropertySet(ews.BasePropertySet.IdOnly, [flagStatus]));
    item.SetExtendedProperty(flagStatus, 2);
    await item.Update(ews.ConflictResolutionMode.AutoResolve);
    const got = await seen;
    assert.ok(got.flags.has('\\Flagged'));

    // and back: a pull subscription on the inbox, a flag over IMAP, GetEvents names the item
    const sub = await svc.SubscribeToPullNotifications([new ews.FolderId(ews.WellKnownFolderName.Inbox)], 10, null as unknown as string, ews.EventType.Modified);
    const lock = await imap.getMailboxLock('INBOX');
    try {
      await imap.messageFlagsAdd('1', ['\\Flagged']);
    } finally {
      lock.release();
    }
    const events = await sub.GetEvents();
    const modified = events.ItemEvents.filter((e) => e.EventType === ews.EventType.Modified);
    assert.ok(modified.length >= 1, `events: ${events.AllEvents.length}`);
    const first = (await srv.ctx.store.listMessageIndex(alice.id, (await srv.ctx.store.getFolder(alice.id, 'INBOX'))!.id)).uids[0];
    const firstItem = await srv.ctx.store.getMessageByUid(alice.id, (await srv.ctx.store.getFolder(alice.id, 'INBOX'))!.id, first!);
    assert.ok(firstItem?.flags.includes('\\Flagged'));
    await sub.Unsubscribe();
  } finally {
    await imap.logout().catch(() => undefined);
  }
});
