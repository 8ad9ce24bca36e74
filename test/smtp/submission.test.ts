import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createTransport } from 'nodemailer';
import { STORE_FILE } from '../../src/server/create-context.js';
import { startSmtpServer } from '../../src/protocols/smtp/server.js';
import { submitMessage } from '../../src/transport/submit.js';
import { SmtpReply } from '../../src/transport/replies.js';
import type { Listener } from '../../src/server/listener.js';
import type { User } from '../../src/store/types.js';
import { RawSmtp, addUser, folderMessages, makeEnv, type TestEnv } from './helpers.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const plain = (user: string, pass: string) => `AUTH PLAIN ${b64(`\0${user}\0${pass}`)}`;

function message(tag: string): Buffer {
  return Buffer.from(`From: Alice <alice@test.example>\r\nTo: bob@test.example, far@elsewhere.example\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@test.example>\r\n\r\nbody of ${tag}\r\n`);
}

describe('SMTP submission listener', () => {
  let env: TestEnv;
  let sub: Listener;
  let smtps: Listener;
  let alice: User;
  let bob: User;

  before(async () => {
    env = await makeEnv();
    alice = await addUser(env.ctx, 'alice@test.example', 'alice-pw');
    await env.ctx.store.addAddress(alice.id, 'a.alias@test.example');
    bob = await addUser(env.ctx, 'bob@test.example', 'bob-pw');
    sub = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'submission' });
    smtps = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: true, mode: 'submission' });
  });
  after(async () => {
    await sub.close();
    await smtps.close();
    await env.cleanup();
  });

  it('refuses AUTH and mail before STARTTLS', async () => {
    const { client } = await RawSmtp.connect(sub.port);
    const ehlo = await client.cmd('EHLO client.example');
    assert.match(ehlo, /STARTTLS/);
    assert.doesNotMatch(ehlo, /AUTH/, 'no AUTH offered in clear text');
    assert.match(await client.cmd(plain('alice@test.example', 'alice-pw')), /^530 5\.7\.0 /);
    assert.match(await client.cmd('MAIL FROM:<alice@test.example>'), /^530 5\.7\.0 /);
    await client.startTls();
    assert.match(await client.cmd('EHLO client.example'), /250[- ]AUTH PLAIN LOGIN/);
    client.close();
  });

  it('refuses a wrong password and unauthenticated mail', async () => {
    const { client } = await RawSmtp.connect(sub.port);
    await client.cmd('EHLO client.example');
    await client.startTls();
    await client.cmd('EHLO client.example');
    assert.match(await client.cmd(plain('alice@test.example', 'wrong')), /^535 5\.7\.8 /);
    assert.match(await client.cmd('MAIL FROM:<alice@test.example>'), /^530 /);
    assert.match(await client.cmd(plain('alice@test.example', 'alice-pw')), /^235 /);
    client.close();
  });

  it('refuses envelope senders that are not the user\'s own', async () => {
    const { client } = await RawSmtp.connect(sub.port);
    await client.cmd('EHLO client.example');
    await client.startTls();
    await client.cmd('EHLO client.example');
    assert.match(await client.cmd(plain('alice@test.example', 'alice-pw')), /^235 /);
    assert.match(await client.cmd('MAIL FROM:<bob@test.example>'), /^553 5\.7\.1 /);
    assert.match(await client.cmd('MAIL FROM:<ceo@elsewhere.example>'), /^553 5\.7\.1 /);
    assert.match(await client.cmd('MAIL FROM:<>'), /^553 5\.7\.1 /);
    assert.match(await client.cmd('MAIL FROM:<A.Alias@test.example>'), /^250 /, 'an alias address is the user\'s own');
    assert.match(await client.cmd('RCPT TO:<nobody@test.example>'), /^550 5\.1\.1 /);
    assert.match(await client.cmd('RCPT TO:<far@elsewhere.example>'), /^250 /, 'authenticated users may relay');
    client.close();
  });

  it('delivers local recipients at once and queues remote ones (587 STARTTLS)', async () => {
    const t = createTransport({ host: '127.0.0.1', port: sub.port, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@test.example', pass: 'alice-pw' } });
    const info = await t.sendMail({ envelope: { from: 'alice@test.example', to: ['bob@test.example', 'far@elsewhere.example'] }, raw: message('sub-587') });
    t.close();
    assert.match(info.response, /^250 2\.6\.0/);
    const got = (await folderMessages(env.ctx, bob)).find((m) => m.raw.includes('Subject: sub-587'));
    assert.ok(got);
    assert.match(got.raw.toString(), /^Return-Path: <alice@test\.example>\r\nReceived: from .* with ESMTPSA id /s);
    const queue = await env.ctx.store.listQueue();
    const entry = queue.find((q) => q.recipients.includes('far@elsewhere.example'));
    assert.ok(entry);
    assert.deepEqual(entry.recipients, ['far@elsewhere.example']);
    assert.equal(entry.sender, 'alice@test.example');
    assert.equal(entry.submittedBy, alice.id);
    const queued = await env.ctx.store.readBlob(entry.blobHash);
    assert.ok(queued.toString().startsWith('Received: '), 'the queued copy has a trace but no Return-Path');
    assert.equal((await folderMessages(env.ctx, alice, '\\Sent')).length, 0, 'SMTP clients save their own sent copy');
  });

  it('stores the local copies and the queue entry of one submission together or not at all', async () => {
    // A trigger in the store file makes queueing fail, as a crash between the two writes would
    // have: the local copy must not stay behind, or the client's retry delivers it twice.
    const file = join(env.dir, STORE_FILE);
    const db = new Database(file);
    db.exec("CREATE TRIGGER refuse_queue BEFORE INSERT ON queue BEGIN SELECT RAISE(ABORT, 'queue refused by the test'); END");
    const send = async () => {
      const t = createTransport({ host: '127.0.0.1', port: sub.port, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@test.example', pass: 'alice-pw' } });
      try {
        return await t.sendMail({ envelope: { from: 'alice@test.example', to: ['bob@test.example', 'far@elsewhere.example'] }, raw: message('atomic') });
      } finally {
        t.close();
      }
    };
    const queuedBefore = (await env.ctx.store.listQueue()).length;
    try {
      await assert.rejects(send(), (e: { responseCode?: number }) => e.responseCode === 451);
      assert.equal((await folderMessages(env.ctx, bob)).filter((m) => m.raw.includes('Subject: atomic')).length, 0, 'no local copy without its queue entry');
      assert.equal((await env.ctx.store.listQueue()).length, queuedBefore);
    } finally {
      db.exec('DROP TRIGGER refuse_queue');
      db.close();
    }
    // the client's retry: exactly one local copy, one queue entry
    assert.match((await send()).response, /^250 /);
    assert.equal((await folderMessages(env.ctx, bob)).filter((m) => m.raw.includes('Subject: atomic')).length, 1);
    const queued = await Promise.all((await env.ctx.store.listQueue()).map((q) => env.ctx.store.readBlob(q.blobHash)));
    assert.equal(queued.filter((raw) => raw.includes('Subject: atomic')).length, 1);
  });

  it('accepts submission over implicit TLS (465)', async () => {
    const t = createTransport({ host: '127.0.0.1', port: smtps.port, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'bob@test.example', pass: 'bob-pw' } });
    await t.sendMail({ envelope: { from: 'bob@test.example', to: ['alice@test.example'] }, raw: Buffer.from('Subject: via-465\r\n\r\nhi\r\n') });
    t.close();
    assert.ok((await folderMessages(env.ctx, alice)).some((m) => m.raw.includes('Subject: via-465')));
  });

  it('submitMessage (the web mail path) saves a Sent copy and checks the sender', async () => {
    const raw = Buffer.from('From: alice@test.example\r\nTo: bob@test.example\r\nSubject: web\r\n\r\nfrom the browser\r\n');
    const r = await submitMessage(env.ctx, alice, { from: 'alice@test.example', to: ['bob@test.example'], raw, saveToSent: true });
    assert.deepEqual(r.delivered, ['bob@test.example']);
    assert.equal(r.sentSaved, true);
    const sent = await folderMessages(env.ctx, alice, '\\Sent');
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].raw, raw);
    assert.ok(sent[0].flags.includes('\\Seen'));
    await assert.rejects(
      submitMessage(env.ctx, alice, { from: 'bob@test.example', to: ['bob@test.example'], raw, saveToSent: false }),
      (e: unknown) => e instanceof SmtpReply && e.responseCode === 553 && e.enhanced === '5.7.1',
    );
    await assert.rejects(
      submitMessage(env.ctx, alice, { from: 'alice@test.example', to: ['ghost@test.example'], raw, saveToSent: false }),
      (e: unknown) => e instanceof SmtpReply && e.responseCode === 550,
    );
  });
});
