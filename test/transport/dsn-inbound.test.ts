import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpServer } from '../../src/protocols/smtp/server.js';
import { startOutboundQueue, type OutboundQueue } from '../../src/transport/queue.js';
import type { Listener } from '../../src/server/listener.js';
import type { User } from '../../src/store/types.js';
import { TestDns } from '../helpers/dns-server.js';
import { freePortOn, LoopbackReceiver as Receiver } from '../helpers/smtp-receiver.js';
import { run } from '../helpers/run.js';
import { parseDsn, type ParsedDsn } from '../helpers/dsn-report.js';
import { RawSmtp, addUser, folderMessages, makeEnv, type TestEnv } from '../smtp/helpers.js';

/**
 * RFC 3461 on the inbound listeners (port 25 and LMTP), where this server is the final
 * delivery agent: NOTIFY=SUCCESS gets a "delivered" DSN to the envelope sender, which leaves
 * through the outbound queue to the sender's MX (a loopback receiver) when the sender is remote.
 */

const message = (tag: string) => Buffer.from(`From: sender@far.test\r\nTo: bob@test.example\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@far.test>\r\n\r\nbody of ${tag}\r\n`);

describe('DSN extension (RFC 3461) on port 25 and LMTP: this server as the final delivery agent', () => {
  let dns: TestDns;
  let env: TestEnv;
  let mx: Listener;
  let lmtp: Listener;
  let queue: OutboundQueue;
  let bob: User;
  let carol: User;
  let dave: User;
  let senderMx: Receiver; // 127.0.0.2, MX of far.test: where DSNs to remote senders go

  before(async () => {
    dns = await new TestDns().start();
    const port = await freePortOn(['127.0.0.2']);
    env = await makeEnv({ dns: { servers: [dns.server] }, smtp: { deliveryPort: port } });
    senderMx = new Receiver('127.0.0.2', { dsn: true });
    await senderMx.up(port);
    dns.set('far.test', { MX: [{ preference: 10, exchange: 'mx.far.test' }] });
    dns.set('mx.far.test', { A: ['127.0.0.2'] });
    bob = await addUser(env.ctx, 'bob@test.example');
    carol = await addUser(env.ctx, 'carol@test.example');
    dave = await addUser(env.ctx, 'dave@test.example');
    // dave's mailbox is full: a message to him is refused by the store
    await env.ctx.store.putSetting({ scope: 'user', targetId: dave.id, name: 'Default Mailbox Quota Bytes', value: '100' });
    mx = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' });
    lmtp = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'lmtp' });
    queue = startOutboundQueue(env.ctx, { pollMs: 600_000 });
  });
  after(async () => {
    await queue.stop();
    await mx.close();
    await lmtp.close();
    await senderMx.down();
    await env.cleanup();
    await dns.stop();
  });
  beforeEach(() => {
    senderMx.got = [];
  });

  /** The DSNs the sender's MX received (the queue sent what was waiting once this resolves). */
  async function dsnsAtSenderMx(): Promise<ParsedDsn[]> {
    await queue.runNow();
    return Promise.all(senderMx.got.map((g) => parseDsn(g.raw)));
  }

  /** Sends with python's smtplib (SMTP on port 25, LMTP on the LMTP port) with DSN parameters. */
  async function pySend(via: 'smtp' | 'lmtp', tag: string, to: string[], mailOptions: string[], rcptOptions: string[], from = 'sender@far.test'): Promise<void> {
    const script = [
      'import smtplib, sys, json',
      via === 'lmtp' ? `s = smtplib.LMTP("127.0.0.1", ${lmtp.port})` : `s = smtplib.SMTP("127.0.0.1", ${mx.port})`,
      's.ehlo("relay.far.test")',
      'assert s.has_extn("dsn"), s.esmtp_features',
      `refused = s.sendmail(sys.argv[4], json.loads(sys.argv[1]), sys.stdin.buffer.read(), mail_options=json.loads(sys.argv[2]), rcpt_options=json.loads(sys.argv[3]))`,
      'assert refused == {}, refused',
      's.quit()',
    ].join('\n');
    const r = await run('python3', ['-c', script, JSON.stringify(to), JSON.stringify(mailOptions), JSON.stringify(rcptOptions), from], { input: message(tag) });
    assert.equal(r.status, 0, r.stderr);
  }

  it('port 25 NOTIFY=SUCCESS: a "delivered" DSN to the remote sender through its MX, with ENVID, ORCPT and RET=FULL honoured', async () => {
    await pySend('smtp', 'mx-success', ['bob@test.example'], ['RET=FULL', 'ENVID=in+2B1+3Dx'], ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;Bob+40test.example']);
    assert.ok((await folderMessages(env.ctx, bob)).some((m) => m.raw.includes('Subject: mx-success')));
    const [dsn, ...more] = await dsnsAtSenderMx();
    assert.ok(dsn, 'a DSN reached the sender\'s MX');
    assert.equal(more.length, 0);
    assert.deepEqual(senderMx.got[0]!.to, ['sender@far.test']);
    assert.match(dsn.subject, /^Delivered: mx-success/);
    assert.equal(dsn.perMessage['original-envelope-id'], 'in+1=x');
    assert.equal(dsn.perMessage['reporting-mta'], 'dns; mx.test.example');
    assert.equal(dsn.recipients.length, 1);
    assert.equal(dsn.recipients[0]!['action'], 'delivered');
    assert.equal(dsn.recipients[0]!['status'], '2.0.0');
    assert.equal(dsn.recipients[0]!['final-recipient'], 'rfc822; bob@test.example');
    assert.equal(dsn.recipients[0]!['original-recipient'], 'rfc822;Bob@test.example');
    assert.equal(dsn.returned, 'message/rfc822', 'RET=FULL: the whole message');
    assert.match(dsn.returnedText, /body of mx-success/);
  });

  it('port 25: a notice only for the recipients that asked (NEVER, FAILURE, none), the header only without RET', async () => {
    assert.match((await rawSend('smtp', ' ENVID=mixed-1', ['<bob@test.example> NOTIFY=SUCCESS', '<carol@test.example> NOTIFY=NEVER', '<dave@test.example> NOTIFY=NEVER'], 'mx-mixed'))[0]!, /^250 /);
    const dsns = await dsnsAtSenderMx();
    assert.equal(dsns.length, 1, 'NEVER: no bounce for dave\'s full mailbox, no notice for carol');
    assert.equal(dsns[0]!.recipients.length, 1);
    assert.equal(dsns[0]!.recipients[0]!['final-recipient'], 'rfc822; bob@test.example');
    assert.equal(dsns[0]!.recipients[0]!['action'], 'delivered');
    assert.equal(dsns[0]!.recipients[0]!['original-recipient'], undefined);
    assert.equal(dsns[0]!.perMessage['original-envelope-id'], 'mixed-1');
    assert.equal(dsns[0]!.returned, 'text/rfc822-headers', 'a success notice returns the header unless RET=FULL');
    assert.doesNotMatch(dsns[0]!.returnedText, /yyyy/);
  });

  /** One transaction over a raw connection (per-recipient parameters; no SIZE, so a full mailbox is found at the commit). */
  async function rawSend(via: 'smtp' | 'lmtp', mailParams: string, rcpts: string[], tag: string): Promise<string[]> {
    const { client } = await RawSmtp.connect(via === 'lmtp' ? lmtp.port : mx.port);
    await client.cmd(`${via === 'lmtp' ? 'LHLO' : 'EHLO'} relay.far.test`);
    assert.match(await client.cmd(`MAIL FROM:<sender@far.test>${mailParams}`), /^250/);
    for (const r of rcpts) assert.match(await client.cmd(`RCPT TO:${r}`), /^250/, r);
    assert.match(await client.cmd('DATA'), /^354/);
    client.write(`From: sender@far.test\r\nSubject: ${tag}\r\n\r\n${'y'.repeat(300)}\r\n.\r\n`);
    const replies = [];
    for (let i = 0; i < (via === 'lmtp' ? rcpts.length : 1); i++) replies.push(await client.reply());
    client.close();
    return replies;
  }

  it('port 25 NOTIFY=FAILURE (and no NOTIFY): the bounce for a full mailbox in an accepted message; SUCCESS alone: no bounce', async () => {
    assert.match((await rawSend('smtp', ' ENVID=fail-1', ['<bob@test.example> NOTIFY=FAILURE', '<dave@test.example> NOTIFY=FAILURE ORCPT=rfc822;dave+40test.example'], 'mx-fail'))[0]!, /^250 /);
    let dsns = await dsnsAtSenderMx();
    assert.equal(dsns.length, 1);
    assert.match(dsns[0]!.subject, /^Undeliverable: mx-fail/);
    assert.deepEqual(dsns[0]!.recipients.map((r) => [r['final-recipient'], r['action'], r['status'], r['original-recipient']]), [['rfc822; dave@test.example', 'failed', '4.2.2', 'rfc822;dave@test.example']]);
    assert.equal(dsns[0]!.perMessage['original-envelope-id'], 'fail-1');
    senderMx.got = [];
    await rawSend('smtp', '', ['<bob@test.example>', '<dave@test.example>'], 'mx-default');
    dsns = await dsnsAtSenderMx();
    assert.deepEqual(dsns.map((d) => d.recipients.map((r) => `${r['action']} ${r['final-recipient']}`)), [['failed rfc822; dave@test.example']], 'without NOTIFY: failures only');
    senderMx.got = [];
    await rawSend('smtp', '', ['<bob@test.example> NOTIFY=SUCCESS', '<dave@test.example> NOTIFY=SUCCESS'], 'mx-success-only');
    dsns = await dsnsAtSenderMx();
    assert.deepEqual(dsns.map((d) => d.recipients.map((r) => `${r['action']} ${r['final-recipient']}`)), [['delivered rfc822; bob@test.example']]);
  });

  it('port 25 from a local sender: the notice goes to the sender\'s Inbox; the null sender gets none', async () => {
    await pySend('smtp', 'mx-local', ['bob@test.example'], [], ['NOTIFY=SUCCESS'], 'carol@test.example');
    const notices = (await folderMessages(env.ctx, carol)).filter((m) => m.raw.includes('report-type=delivery-status'));
    assert.equal(notices.length, 1);
    const dsn = await parseDsn(notices[0]!.raw);
    assert.match(dsn.subject, /^Delivered: mx-local/);
    assert.match(notices[0]!.raw.toString(), /^Return-Path: <>\r\n/);
    await pySend('smtp', 'mx-null', ['bob@test.example'], [], ['NOTIFY=SUCCESS'], '');
    assert.ok((await folderMessages(env.ctx, bob)).some((m) => m.raw.includes('Subject: mx-null')));
    assert.equal((await dsnsAtSenderMx()).length, 0);
  });

  it('LMTP offers DSN; NOTIFY=SUCCESS: the "delivered" DSN comes from here (python smtplib.LMTP)', async () => {
    const { client } = await RawSmtp.connect(lmtp.port);
    assert.match(await client.cmd('LHLO relay.far.test'), /250[- ]DSN/);
    client.close();
    await pySend('lmtp', 'lmtp-success', ['bob@test.example'], ['ENVID=lmtp-1'], ['NOTIFY=SUCCESS', 'ORCPT=rfc822;bob@test.example']);
    assert.ok((await folderMessages(env.ctx, bob)).some((m) => m.raw.includes('Subject: lmtp-success')));
    const [dsn, ...more] = await dsnsAtSenderMx();
    assert.ok(dsn);
    assert.equal(more.length, 0);
    assert.match(dsn.subject, /^Delivered: lmtp-success/);
    assert.equal(dsn.recipients[0]!['action'], 'delivered');
    assert.equal(dsn.recipients[0]!['original-recipient'], 'rfc822;bob@test.example');
    assert.equal(dsn.perMessage['original-envelope-id'], 'lmtp-1');
  });

  it('LMTP: failures are the client\'s to report (its per-recipient reply), only successes are notified here', async () => {
    const replies = await rawSend('lmtp', '', ['<dave@test.example> NOTIFY=SUCCESS,FAILURE', '<carol@test.example> NOTIFY=SUCCESS,FAILURE', '<bob@test.example>'], 'lmtp-mixed');
    assert.match(replies[0]!, /^452 4\.2\.2 <dave@test\.example>/);
    assert.match(replies[1]!, /^250 2\.0\.0 <carol@test\.example>/);
    assert.match(replies[2]!, /^250 2\.0\.0 <bob@test\.example>/);
    const dsns = await dsnsAtSenderMx();
    assert.deepEqual(dsns.map((d) => d.recipients.map((r) => `${r['action']} ${r['final-recipient']}`)), [['delivered rfc822; carol@test.example']]);
  });

  for (const via of ['smtp', 'lmtp'] as const) {
    it(`${via}: ENVID and ORCPT that are not xtext are refused with 501 5.5.4 and a clear text`, async () => {
      const { client } = await RawSmtp.connect(via === 'lmtp' ? lmtp.port : mx.port);
      await client.cmd(`${via === 'lmtp' ? 'LHLO' : 'EHLO'} relay.far.test`);
      const bad: Array<[string, RegExp]> = [
        ['MAIL FROM:<sender@far.test> ENVID=ab+2b', /^501 5\.5\.4 ENVID is not valid xtext \(RFC 3461 4\): "\+" at position 3 is not followed by two upper-case hex digits/],
        ['MAIL FROM:<sender@far.test> ENVID=ab+', /^501 5\.5\.4 ENVID is not valid xtext .*"\+" at position 3/],
        ['MAIL FROM:<sender@far.test> ENVID=a=b', /^501 5\.5\.4 ENVID is not valid xtext .*character "=" at position 2 must be written as \+XX/],
        ['MAIL FROM:<sender@far.test> ENVID=caf\xe9', /^501 5\.5\.4 ENVID is not valid xtext .*position 4/],
      ];
      for (const [line, expected] of bad) assert.match(await client.cmd(line), expected, line);
      assert.match(await client.cmd('MAIL FROM:<sender@far.test> ENVID=ok+2B1'), /^250/);
      assert.match(await client.cmd('RCPT TO:<bob@test.example> ORCPT=rfc822;bob+4'), /^501 5\.5\.4 ORCPT is not valid xtext .*"\+" at position 11/);
      assert.match(await client.cmd('RCPT TO:<bob@test.example> ORCPT=rfc822;bob+ZZtest.example'), /^501 5\.5\.4 ORCPT is not valid xtext/);
      assert.match(await client.cmd('RCPT TO:<bob@test.example> ORCPT=rfc822;a=b'), /^501 5\.5\.4 ORCPT is not valid xtext .*"="/);
      assert.match(await client.cmd('RCPT TO:<bob@test.example> NOTIFY=SUCCESS ORCPT=rfc822;bob+40test.example'), /^250/);
      assert.match(await client.cmd('RSET'), /^250/);
      client.close();
    });
  }
});
