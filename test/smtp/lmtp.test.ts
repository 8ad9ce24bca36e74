import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSmtpServer } from '../../src/protocols/smtp/server.js';
import type { Listener } from '../../src/server/listener.js';
import type { User } from '../../src/store/types.js';
import { run } from '../helpers/run.js';
import { RawSmtp, addUser, folderMessages, makeEnv, type TestEnv } from './helpers.js';

const message = (tag: string) => Buffer.from(`From: <s@relay.example>\r\nTo: <alice@test.example>\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@relay.example>\r\n\r\nbody of ${tag}\r\n`);

describe('LMTP listener (RFC 2033)', () => {
  let env: TestEnv;
  let lmtp: Listener;
  let mx: Listener;
  let submission: Listener;
  let alice: User;
  let bob: User;
  let carol: User;

  before(async () => {
    env = await makeEnv();
    alice = await addUser(env.ctx, 'alice@test.example');
    bob = await addUser(env.ctx, 'bob@test.example');
    carol = await addUser(env.ctx, 'carol@test.example');
    lmtp = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'lmtp' });
    mx = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' });
    submission = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'submission' });
  });
  after(async () => {
    await lmtp.close();
    await mx.close();
    await submission.close();
    await env.cleanup();
  });

  it('greets as LMTP, takes LHLO only, offers no AUTH', async () => {
    const { client, greeting } = await RawSmtp.connect(lmtp.port);
    assert.match(greeting, /^220 mx\.test\.example LMTP/);
    assert.match(await client.cmd('EHLO relay.example'), /^500 /);
    const lhlo = await client.cmd('LHLO relay.example');
    assert.match(lhlo, /^250-mx\.test\.example/);
    assert.match(lhlo, /ENHANCEDSTATUSCODES/);
    assert.match(lhlo, /PIPELINING/);
    assert.doesNotMatch(lhlo, /AUTH/);
    client.close();
  });

  it('answers each recipient after the commit: delivered, over quota, removed meanwhile', async () => {
    await env.ctx.store.putSetting({ scope: 'user', targetId: carol.id, name: 'Default Mailbox Quota Bytes', value: '100' });
    const dave = await addUser(env.ctx, 'dave@test.example');
    const { client } = await RawSmtp.connect(lmtp.port);
    await client.cmd('LHLO relay.example');
    assert.match(await client.cmd('MAIL FROM:<s@relay.example>'), /^250/);
    assert.match(await client.cmd('RCPT TO:<alice@test.example>'), /^250/);
    assert.match(await client.cmd('RCPT TO:<carol@test.example>'), /^250/);
    assert.match(await client.cmd('RCPT TO:<dave@test.example>'), /^250/);
    assert.match(await client.cmd('RCPT TO:<bob@test.example>'), /^250/);
    // unknown and remote recipients are refused at RCPT, as on port 25
    assert.match(await client.cmd('RCPT TO:<nobody@test.example>'), /^550 5\.1\.1 /);
    assert.match(await client.cmd('RCPT TO:<x@elsewhere.example>'), /^554 5\.7\.1 /);
    await env.ctx.store.removeUser(dave.id);
    assert.match(await client.cmd('DATA'), /^354/);
    client.write(`Subject: lmtp-many\r\n\r\n${'y'.repeat(300)}\r\n.\r\n`);
    // one reply per accepted RCPT, in RCPT order (RFC 2033 4.2)
    assert.match(await client.reply(), /^250 2\.0\.0 <alice@test\.example> delivered/);
    assert.match(await client.reply(), /^452 4\.2\.2 <carol@test\.example>: Mailbox full/);
    assert.match(await client.reply(), /^550 5\.1\.1 <dave@test\.example>/);
    assert.match(await client.reply(), /^250 2\.0\.0 <bob@test\.example> delivered/);
    assert.match(await client.cmd('QUIT'), /^221/);
    client.close();
    for (const u of [alice, bob]) assert.ok((await folderMessages(env.ctx, u)).some((m) => m.raw.includes('Subject: lmtp-many')));
    assert.equal((await folderMessages(env.ctx, carol)).length, 0);
    // LMTP leaves the bounce to the client (which got a 452 for carol): no DSN from us
    assert.ok(!(await env.ctx.store.listQueue()).some((e) => e.recipients.includes('s@relay.example')));
    const stored = (await folderMessages(env.ctx, alice)).find((m) => m.raw.includes('Subject: lmtp-many'))!;
    assert.match(stored.raw.toString(), /^Return-Path: <s@relay\.example>\r\nReceived: from relay\.example \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test\.example \(Mailwarden\) with LMTP id /);
  });

  it('refuses a message over the size limit once per recipient', async () => {
    await env.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.MaxMessageSize', value: '2048' });
    try {
      const { client } = await RawSmtp.connect(lmtp.port);
      await client.cmd('LHLO relay.example');
      await client.cmd('MAIL FROM:<s@relay.example>');
      await client.cmd('RCPT TO:<alice@test.example>');
      await client.cmd('RCPT TO:<bob@test.example>');
      assert.match(await client.cmd('DATA'), /^354/);
      client.write(`Subject: big\r\n\r\n${'y'.repeat(4000)}\r\n.\r\n`);
      assert.match(await client.reply(), /^552 /);
      assert.match(await client.reply(), /^552 /);
      client.close();
    } finally {
      await env.ctx.store.deleteSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.MaxMessageSize' });
      await env.ctx.settings.refresh();
    }
  });

  it('delivers from swaks --protocol LMTP, a reply per recipient', async () => {
    const file = join(env.dir, 'lmtp-swaks.eml');
    writeFileSync(file, message('lmtp-swaks').subarray(0, -2));
    const r = await run('swaks', ['--timeout', '10m', '--server', `127.0.0.1:${lmtp.port}`, '--protocol', 'LMTP', '--from', 's@relay.example', '--to', 'alice@test.example,bob@test.example', '--helo', 'relay.example', '--data', `@${file}`]);
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    assert.match(out, /<- +250 2\.0\.0 <alice@test\.example> delivered/);
    assert.match(out, /<- +250 2\.0\.0 <bob@test\.example> delivered/);
    for (const u of [alice, bob]) assert.ok((await folderMessages(env.ctx, u)).some((m) => m.raw.includes('Subject: lmtp-swaks')), out);
  });

  it('delivers from python smtplib.LMTP', async () => {
    const script = [
      'import smtplib, sys',
      `s = smtplib.LMTP("127.0.0.1", ${lmtp.port})`,
      'code, _ = s.ehlo("relay.example")',  // LMTP.ehlo sends LHLO
      'assert code == 250, code',
      'refused = s.sendmail("s@relay.example", ["alice@test.example"], sys.stdin.buffer.read())',
      'assert refused == {}, refused',
      's.quit()',
      'print("ok")',
    ].join('\n');
    const r = await run('python3', ['-c', script], { input: message('lmtp-python') });
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    assert.ok((await folderMessages(env.ctx, alice)).some((m) => m.raw.includes('Subject: lmtp-python')));
  });

  it('pauses before the greeting on port 25 only (SmtpSettings.GreetingDelay, live)', async () => {
    // A pause long enough that no test run can outlast it: a client talking first on port 25
    // meets it, while LMTP and submission greet without it.
    await env.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.GreetingDelay', value: '30000' });
    await env.ctx.settings.refresh();
    try {
      const early = await new Promise<string>((resolve, reject) => {
        const { Socket } = net;
        const s = new Socket();
        let got = '';
        s.connect(mx.port, '127.0.0.1', () => s.write('EHLO early.example\r\n'));
        s.setEncoding('latin1');
        s.on('data', (d: string) => {
          got += d;
          if (got.includes('\r\n')) {
            s.destroy();
            resolve(got);
          }
        });
        s.on('error', reject);
      });
      assert.match(early, /^421 .*You talk too soon/);
      for (const port of [lmtp.port, submission.port]) {
        const { client, greeting } = await RawSmtp.connect(port);
        assert.match(greeting, /^220 /);
        client.close();
      }
    } finally {
      await env.ctx.store.deleteSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.GreetingDelay' });
      await env.ctx.settings.refresh();
    }
  });
});

