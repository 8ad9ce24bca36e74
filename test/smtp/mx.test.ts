import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { startSmtpServer } from '../../src/protocols/smtp/server.js';
import type { Listener } from '../../src/server/listener.js';
import type { User } from '../../src/store/types.js';
import { eventually } from '../helpers/server.js';
import { run } from '../helpers/run.js';
import { RawSmtp, addUser, folderMessages, makeEnv, type TestEnv } from './helpers.js';

/** A message with 8-bit text, a leading dot (dot-stuffing) and CRLF line ends. */
function sampleMessage(tag: string, to = 'alice@test.example'): Buffer {
  return Buffer.from(
    [
      'From: Sender <sender@remote.example>',
      `To: <${to}>`,
      `Subject: ${tag}`,
      `Message-ID: <${tag}@remote.example>`,
      'Date: Mon, 01 Jan 2024 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      `Hello from ${tag}. Grüße, ½ and €.`,
      '.a line that starts with a dot',
      '..two dots',
      '',
      'last line',
      '',
    ].join('\r\n'),
  );
}

/** The stored copy must be the sent bytes with only Return-Path and Received in front. */
function assertSameApartFromTrace(stored: Buffer, original: Buffer, sender: string): void {
  assert.ok(stored.length > original.length, 'stored copy is longer than the original');
  const prefix = stored.subarray(0, stored.length - original.length).toString('latin1');
  assert.deepEqual(stored.subarray(stored.length - original.length), original, 'message bytes unchanged');
  // Return-Path, then the inbound checks' lines (Received-SPF, Authentication-Results), then our Received:
  assert.match(prefix, new RegExp(`^Return-Path: <${sender.replace(/\./g, '\\.')}>\r\n(Received-SPF: [^]*)?Authentication-Results: [^]*\r\nReceived: from `), prefix);
  assert.ok(prefix.endsWith('\r\n'));
  for (const line of prefix.slice(0, -2).split('\r\n')) assert.match(line, /^(Return-Path: |Received: |Received-SPF: |Authentication-Results: |[\t ])/);
}

describe('SMTP MX listener', () => {
  let env: TestEnv;
  let mx: Listener;
  let alice: User;
  let bob: User;
  let carol: User;
  let dave: User;

  before(async () => {
    env = await makeEnv();
    alice = await addUser(env.ctx, 'alice@test.example');
    bob = await addUser(env.ctx, 'bob@test.example');
    carol = await addUser(env.ctx, 'carol@test.example');
    dave = await addUser(env.ctx, 'dave@test.example');
    mx = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' });
  });
  after(async () => {
    await mx.close();
    await env.cleanup();
  });

  it('announces the extensions and no AUTH', async () => {
    const { client, greeting } = await RawSmtp.connect(mx.port);
    assert.match(greeting, /^220 mx\.test\.example ESMTP/);
    const ehlo = await client.cmd('EHLO client.example');
    for (const ext of ['SIZE 36700160', 'STARTTLS', '8BITMIME', 'PIPELINING', 'SMTPUTF8', 'ENHANCEDSTATUSCODES']) assert.match(ehlo, new RegExp(`250[- ]${ext}`));
    assert.doesNotMatch(ehlo, /AUTH/);
    assert.match(await client.startTls(), /^220/);
    const after = await client.cmd('EHLO client.example');
    assert.doesNotMatch(after, /STARTTLS|AUTH/);
    client.close();
  });

  it('delivers from nodemailer, byte for byte', async () => {
    const raw = sampleMessage('nodemailer');
    const t = createTransport({ host: '127.0.0.1', port: mx.port, secure: false, tls: { rejectUnauthorized: false } });
    const info = await t.sendMail({ envelope: { from: 'sender@remote.example', to: ['alice@test.example'] }, raw });
    t.close();
    assert.match(info.response, /^250 2\.6\.0 /);
    const msgs = await folderMessages(env.ctx, alice);
    const m = msgs.find((x) => x.raw.includes('Subject: nodemailer'));
    assert.ok(m);
    assertSameApartFromTrace(m.raw, raw, 'sender@remote.example');
    // STARTTLS was used (nodemailer upgrades when offered): the trace says so.
    assert.match(m.raw.toString(), /with ESMTPS id /);
    assert.match(m.raw.toString(), /\r\n\tfor <alice@test\.example>;/);
  });

  it('delivers from swaks', async () => {
    const raw = sampleMessage('swaks');
    const file = join(env.dir, 'swaks.eml');
    // swaks ends the data with CRLF . CRLF itself, so the file holds the message without its last CRLF
    writeFileSync(file, raw.subarray(0, raw.length - 2));
    // --timeout: swaks's own 30 s per step is shorter than a loaded machine may need
    const r = await run('swaks', ['--timeout', '10m', '--server', `127.0.0.1:${mx.port}`, '--from', 'sender@remote.example', '--to', 'alice@test.example', '--helo', 'swaks.example', '--data', `@${file}`]);
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    const m = (await folderMessages(env.ctx, alice)).find((x) => x.raw.includes('Subject: swaks'));
    assert.ok(m, out);
    assertSameApartFromTrace(m.raw, raw, 'sender@remote.example');
  });

  it('delivers from python smtplib', async () => {
    const raw = sampleMessage('python');
    const script = [
      'import smtplib, sys',
      'data = sys.stdin.buffer.read()',
      `s = smtplib.SMTP("127.0.0.1", ${mx.port})`,
      's.ehlo("python.example")',
      'refused = s.sendmail("sender@remote.example", ["alice@test.example"], data)',
      'print("refused", refused)',
      's.quit()',
    ].join('\n');
    const r = await run('python3', ['-c', script], { input: raw });
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    const m = (await folderMessages(env.ctx, alice)).find((x) => x.raw.includes('Subject: python'));
    assert.ok(m, out);
    assertSameApartFromTrace(m.raw, raw, 'sender@remote.example');
  });

  it('stores a message for several local recipients once', async () => {
    const raw = sampleMessage('multi', 'alice@test.example, bob@test.example');
    const t = createTransport({ host: '127.0.0.1', port: mx.port, ignoreTLS: true });
    await t.sendMail({ envelope: { from: 'sender@remote.example', to: ['alice@test.example', 'bob@test.example', 'BOB@test.example'] }, raw });
    t.close();
    const a = (await folderMessages(env.ctx, alice)).filter((x) => x.raw.includes('Subject: multi'));
    const b = (await folderMessages(env.ctx, bob)).filter((x) => x.raw.includes('Subject: multi'));
    assert.equal(a.length, 1);
    assert.equal(b.length, 1, 'one copy for bob although named twice');
    assert.equal(a[0].blobHash, b[0].blobHash, 'one stored blob');
    assert.deepEqual(a[0].raw, b[0].raw);
    assert.doesNotMatch(a[0].raw.toString(), /\tfor </, 'no recipient list in the trace of a multi-recipient message');
    assertSameApartFromTrace(a[0].raw, raw, 'sender@remote.example');
  });

  it('refuses unknown local addresses, relaying and bad addresses', async () => {
    const { client } = await RawSmtp.connect(mx.port);
    await client.cmd('EHLO client.example');
    assert.match(await client.cmd('MAIL FROM:<someone@remote.example>'), /^250/);
    assert.match(await client.cmd('RCPT TO:<nobody@test.example>'), /^550 5\.1\.1 /);
    assert.match(await client.cmd('RCPT TO:<victim@elsewhere.example>'), /^554 5\.7\.1 .*Relay access denied/);
    assert.match(await client.cmd('RCPT TO:<alice>'), /^5\d\d /);
    assert.match(await client.cmd('RCPT TO:<Alice@TEST.example>'), /^250 /);
    assert.match(await client.cmd('AUTH PLAIN AGFsaWNlQHRlc3QuZXhhbXBsZQBzZWNyZXQtcHc='), /^5\d\d /);
    assert.match(await client.cmd('QUIT'), /^221/);
    client.close();
  });

  it('announces and enforces the live size limit', async () => {
    await env.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.MaxMessageSize', value: '2048' });
    try {
      const { client } = await RawSmtp.connect(mx.port);
      assert.match(await client.cmd('EHLO client.example'), /250[- ]SIZE 2048\b/);
      assert.match(await client.cmd('MAIL FROM:<s@remote.example> SIZE=5000'), /^552 5\.3\.4 /);
      assert.match(await client.cmd('MAIL FROM:<s@remote.example>'), /^250/);
      assert.match(await client.cmd('RCPT TO:<alice@test.example>'), /^250/);
      assert.match(await client.cmd('DATA'), /^354/);
      const before = (await folderMessages(env.ctx, alice)).length;
      client.write('Subject: big\r\n\r\n' + 'x'.repeat(70).concat('\r\n').repeat(80) + '.\r\n');
      assert.match(await client.reply(), /^552 5\.3\.4 /);
      assert.equal((await folderMessages(env.ctx, alice)).length, before);
      // the session stays usable for the next message
      assert.match(await client.cmd('RSET'), /^250/);
      client.close();
    } finally {
      await env.ctx.store.deleteSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.MaxMessageSize' });
    }
  });

  it('answers a full mailbox with 452 4.2.2 and bounces partial deliveries', async () => {
    await env.ctx.store.putSetting({ scope: 'user', targetId: carol.id, name: 'Default Mailbox Quota Bytes', value: '100' });
    const { client } = await RawSmtp.connect(mx.port);
    await client.cmd('EHLO client.example');
    // declared size: refused at RCPT
    assert.match(await client.cmd('MAIL FROM:<dave@test.example> SIZE=500'), /^250/);
    assert.match(await client.cmd('RCPT TO:<carol@test.example>'), /^452 4\.2\.2 /);
    assert.match(await client.cmd('RSET'), /^250/);
    // undeclared size, carol alone: refused after DATA, nothing stored
    assert.match(await client.cmd('MAIL FROM:<dave@test.example>'), /^250/);
    assert.match(await client.cmd('RCPT TO:<carol@test.example>'), /^250/);
    assert.match(await client.cmd('DATA'), /^354/);
    client.write(`Subject: quota-1\r\n\r\n${'y'.repeat(300)}\r\n.\r\n`);
    assert.match(await client.reply(), /^452 4\.2\.2 /);
    // carol and alice: alice gets it, dave (the sender) gets a DSN for carol
    assert.match(await client.cmd('MAIL FROM:<dave@test.example>'), /^250/);
    assert.match(await client.cmd('RCPT TO:<carol@test.example>'), /^250/);
    assert.match(await client.cmd('RCPT TO:<alice@test.example>'), /^250/);
    assert.match(await client.cmd('DATA'), /^354/);
    client.write(`Subject: quota-2\r\n\r\n${'y'.repeat(300)}\r\n.\r\n`);
    assert.match(await client.reply(), /^250 /);
    client.close();
    assert.equal((await folderMessages(env.ctx, carol)).length, 0);
    assert.ok((await folderMessages(env.ctx, alice)).some((m) => m.raw.includes('Subject: quota-2')));
    const dsn = (await folderMessages(env.ctx, dave)).find((m) => m.raw.includes('multipart/report'));
    assert.ok(dsn, 'DSN delivered to the sender');
    const text = dsn.raw.toString();
    assert.match(text, /Final-Recipient: rfc822; carol@test\.example/);
    assert.match(text, /Status: 4\.2\.2/);
    assert.match(text, /Subject: quota-2/);
  });

  it('limits recipients per message', async () => {
    await env.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.MaxRecipients', value: '2' });
    try {
      const { client } = await RawSmtp.connect(mx.port);
      await client.cmd('EHLO client.example');
      await client.cmd('MAIL FROM:<s@remote.example>');
      assert.match(await client.cmd('RCPT TO:<alice@test.example>'), /^250/);
      assert.match(await client.cmd('RCPT TO:<bob@test.example>'), /^250/);
      assert.match(await client.cmd('RCPT TO:<dave@test.example>'), /^452 4\.5\.3 /);
      client.close();
    } finally {
      await env.ctx.store.deleteSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.MaxRecipients' });
    }
  });

  it('limits connections per client address', async () => {
    await env.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.MaxConnectionFromSingleIP', value: '2' });
    const open: RawSmtp[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = await RawSmtp.connect(mx.port);
        assert.match(c.greeting, /^220/);
        open.push(c.client);
      }
      const third = await RawSmtp.connect(mx.port);
      assert.match(third.greeting, /^421 4\.7\.0 .*MaxConnectionFromSingleIP/);
      third.client.close();
      open.pop()!.close();
      // the slot is free once the server has handled the close: wait for that, not for a time
      const again = await eventually(async () => {
        const c = await RawSmtp.connect(mx.port);
        if (/^220/.test(c.greeting)) return c;
        c.client.close();
        return null;
      }, 'a slot to be free again');
      assert.ok(again);
      assert.match(again.greeting, /^220/, 'a slot is free again after a client left');
      open.push(again.client);
    } finally {
      for (const c of open) c.close();
      await env.ctx.store.deleteSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.MaxConnectionFromSingleIP' });
    }
  });

  it('drops a client that sends an overlong command line', async () => {
    const { client } = await RawSmtp.connect(mx.port);
    await client.cmd('EHLO client.example');
    assert.match(await client.cmd('MAIL FROM:<' + 'a'.repeat(6000) + '@remote.example>'), /^421 4\.4\.2 .*too long/i);
    client.close();
  });
});
