// IDLE hears the selected mailbox through the ChangeBus: its folder's changes only, and a session
// that ends or selects another mailbox leaves no subscription behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InProcessChangeBus } from '../../src/store/change-bus.js';
import { eventually, RawClient, sampleMessage, startTestServer } from './helpers.js';

test('IDLE is woken by a change of the selected mailbox, not of the one selected before; no subscription outlives its session', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const bus = srv.ctx.changes as InProcessChangeBus;
  const before = bus.subscriptions;
  const work = await srv.ctx.store.createFolder(srv.user.id, 'Work');
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('old'));

  const a = await RawClient.connect(srv.port);
  await a.readResponse();
  await a.login();
  await a.command('SELECT INBOX');
  await a.command('SELECT Work');
  assert.equal(bus.subscriptions, before + 1, 'the SELECT of Work closed INBOX and its subscription');
  a.send('i1 IDLE\r\n');
  assert.equal(await a.readResponse(), '+ idling');
  // new mail in INBOX (selected before) first, then in Work: only Work's is announced
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('to inbox'));
  await srv.ctx.store.append(srv.user.id, work.id, sampleMessage('to work'));
  assert.equal(await a.readResponse(), '* 1 EXISTS');
  assert.equal(await a.readResponse(), '* 1 RECENT');
  a.send('DONE\r\n');
  assert.equal(await a.readResponse(), 'i1 OK IDLE terminated');
  await a.command('LOGOUT');
  await eventually(() => bus.subscriptions === before);
});
