import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { User } from '../../src/store/types.js';
import { eventually } from '../helpers/server.js';
import { ApiClient, cookieHeader, deliver, mail, openStream, startOwaServer, type OwaTestServer } from './helpers.js';

let srv: OwaTestServer;
let erin: User;
let finn: User;
let port: number;

before(async () => {
  srv = await startOwaServer();
  port = srv.port('https');
  erin = await srv.addUser('erin@example.com');
  finn = await srv.addUser('finn@example.com');
});
after(async () => srv.close());

type Row = { id: string; folderId: number; subject: string };

test('web mail message ids are the store’s opaque ids: in the list, in URLs, kept across a move, never another user’s', async () => {
  const c = new ApiClient(port);
  assert.equal((await c.login(erin.address)).status, 200);
  const id = await deliver(srv, erin, mail({ to: erin.address, subject: 'keeps its id' }));
  assert.match(id, /^M[0-9a-z]+$/);
  const inbox = await srv.ctx.store.getSpecialFolder(erin.id, '\\Inbox');
  const list = async (folderId: number) => ((await c.get(`/folders/${folderId}/messages`)).json as { items: Row[] }).items;
  assert.deepEqual((await list(inbox.id)).map((m) => m.id), [id]);
  assert.equal((await c.get(`/messages/${id}`)).json.subject, 'keeps its id');

  const archive = await srv.ctx.store.createFolder(erin.id, 'Archive');
  assert.equal((await c.post('/messages/move', { ids: [id], folderId: archive.id })).json.moved, 1);
  const opened = await c.get(`/messages/${id}`);
  assert.equal(opened.status, 200, 'the same URL still opens the moved message');
  assert.equal(opened.json.folderId, archive.id);
  assert.deepEqual((await list(archive.id)).map((m) => m.id), [id]);
  assert.equal((await c.post('/messages/flags', { ids: [id], flagged: true })).status, 200);
  // a rename does not change the message id either
  await srv.ctx.store.renameFolder(erin.id, archive.id, 'Archive 2026');
  assert.equal((await c.get(`/messages/${id}`)).json.flagged, true);

  // another user: the id is "not found" on every path; row numbers and other shapes are bad requests
  const f = new ApiClient(port);
  assert.equal((await f.login(finn.address)).status, 200);
  assert.equal((await f.get(`/messages/${id}`)).status, 404);
  assert.equal((await f.post('/messages/flags', { ids: [id], seen: true })).status, 404);
  assert.equal((await f.post('/send', { to: [finn.address], replyTo: id })).status, 404);
  for (const bad of ['1', 'abc', 'M', `${id}x!`]) assert.equal((await f.get(`/messages/${encodeURIComponent(bad)}`)).status, 400, bad);
  assert.equal((await f.post('/messages/delete', { ids: [1] })).status, 400, 'numeric ids are refused');
  assert.equal((await srv.ctx.store.getMessage(erin.id, id))!.flags.includes('\\Seen'), true, 'opened by erin only');
  await c.post('/logout');
  await f.post('/logout');
});

test('web mail push: a change of the signed-in user’s mailbox is an event naming the folder; another user’s is not', async () => {
  const c = new ApiClient(port);
  assert.equal((await c.login(erin.address)).status, 200);
  const stream = await openStream(port, cookieHeader(c));
  assert.equal(stream.status, 200);
  await eventually(async () => stream.events.includes('ready'), 'stream ready');
  const inbox = await srv.ctx.store.getSpecialFolder(erin.id, '\\Inbox');
  await deliver(srv, finn, mail({ to: finn.address, subject: 'for finn' }));
  await deliver(srv, erin, mail({ to: erin.address, subject: 'for erin' }));
  await eventually(async () => stream.events.includes('change'), 'change event');
  // finn's delivery was published first: had it reached this stream, it would be first
  const changes = stream.payloads.filter((p) => p.event === 'change');
  assert.deepEqual(changes[0]!.data, { folderId: inbox.id, kind: 'append' });
  stream.close();
  await stream.ended;
  await c.post('/logout');
});
