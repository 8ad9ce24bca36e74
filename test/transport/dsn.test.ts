import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSmtpServer } from '../../src/protocols/smtp/server.js';
import { startOutboundQueue, type OutboundQueue } from '../../src/transport/queue.js';
import type { Listener } from '../../src/server/listener.js';
import type { User } from '../../src/store/types.js';
import { TestDns } from '../helpers/dns-server.js';
import { freePortOn, LoopbackReceiver as Receiver } from '../helpers/smtp-receiver.js';
import { run } from '../helpers/run.js';
import { parseDsn } from '../helpers/dsn-report.js';
import { RawSmtp, addUser, folderMessages, makeEnv, type TestEnv } from '../smtp/helpers.js';

const message = (tag: string, to: string) => Buffer.from(`From: alice@test.example\r\nTo: ${to}\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@test.example>\r\n\r\nbody of ${tag}\r\n`);

describe('DSN extension (RFC 3461) on submission and the outbound queue', () => {
  let dns: TestDns;
  let env: TestEnv;
  let sub: Listener;
  let queue: OutboundQueue;
  let alice: User;
  let bob: User;
  let withDsn: Receiver; // 127.0.0.2, MX of dsn.test: offers DSN
  let without: Receiver; // 127.0.0.3, MX of plain.test: does not
  /** The queue's clock runs this far ahead of the wall clock (the delay notice test moves it). */
  let ahead = 0;

  before(async () => {
    dns = await new TestDns().start();
    const port = await freePortOn(['127.0.0.2', '127.0.0.3']);
    env = await makeEnv({ dns: { servers: [dns.server] }, smtp: { deliveryPort: port, retrySchedule: [60, 300, 3600], delayNotificationAfter: 200 } });
    withDsn = new Receiver('127.0.0.2', { dsn: true });
    without = new Receiver('127.0.0.3');
    await Promise.all([withDsn.up(port), without.up(port)]);
    dns.set('dsn.test', { MX: [{ preference: 10, exchange: 'mx.dsn.test' }] });
    dns.set('mx.dsn.test', { A: ['127.0.0.2'] });
    dns.set('plain.test', { MX: [{ preference: 10, exchange: 'mx.plain.test' }] });
    dns.set('mx.plain.test', { A: ['127.0.0.3'] });
    alice = await addUser(env.ctx, 'alice@test.example', 'alice-pw');
    bob = await addUser(env.ctx, 'bob@test.example', 'bob-pw');
    sub = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'submission' });
    queue = startOutboundQueue(env.ctx, { pollMs: 600_000, clock: () => new Date(Date.now() + ahead) });
  });
  after(async () => {
    await queue.stop();
    await sub.close();
    await Promise.all([withDsn.down(), without.down()]);
    await env.cleanup();
    await dns.stop();
  });
  beforeEach(() => {
    for (const r of [withDsn, without]) {
      r.got = [];
      r.refuse = () => null;
    }
  });

  /** The DSNs in alice's Inbox whose Subject names the tag, parsed. */
  const dsnsAbout = async (tag: string) => {
    const all = (await folderMessages(env.ctx, alice)).filter((m) => m.raw.includes('report-type=delivery-status'));
    const parsed = await Promise.all(all.map((m) => parseDsn(m.raw)));
    return parsed.filter((d) => d.subject.endsWith(`: ${tag}`));
  };

  /** Sends through the submission port with python's smtplib: STARTTLS, AUTH, then MAIL/RCPT options. */
  async function pySend(tag: string, to: string[], mailOptions: string[], rcptOptions: string[]): Promise<void> {
    const script = [
      'import smtplib, ssl, sys, json',
      `s = smtplib.SMTP("127.0.0.1", ${sub.port})`,
      's.ehlo("client.example")',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      's.starttls(context=ctx)',
      's.ehlo("client.example")',
      'assert s.has_extn("dsn"), s.esmtp_features',
      's.login("alice@test.example", "alice-pw")',
      `refused = s.sendmail("alice@test.example", json.loads(sys.argv[1]), sys.stdin.buffer.read(), mail_options=json.loads(sys.argv[2]), rcpt_options=json.loads(sys.argv[3]))`,
      'assert refused == {}, refused',
      's.quit()',
    ].join('\n');
    const r = await run('python3', ['-c', script, JSON.stringify(to), JSON.stringify(mailOptions), JSON.stringify(rcptOptions)], { input: message(tag, to.join(', ')) });
    assert.equal(r.status, 0, r.stderr);
    // the queue has tried the entry once this resolves (a pass that started after the submission)
    await queue.runNow();
  }

  it('offers DSN after STARTTLS and refuses malformed parameters with 501 5.5.4', async () => {
    const { client } = await RawSmtp.connect(sub.port);
    await client.cmd('EHLO client.example');
    await client.startTls();
    assert.match(await client.cmd('EHLO client.example'), /250[- ]DSN/);
    assert.match(await client.cmd(`AUTH PLAIN ${Buffer.from('\0alice@test.example\0alice-pw').toString('base64')}`), /^235 /);
    assert.match(await client.cmd('MAIL FROM:<alice@test.example> RET=BODY'), /^501 5\.5\.4 /);
    assert.match(await client.cmd(`MAIL FROM:<alice@test.example> ENVID=${'x'.repeat(101)}`), /^501 5\.5\.4 /);
    assert.match(await client.cmd('MAIL FROM:<alice@test.example> ENVID=a ENVID=b'), /^501 5\.5\.4 /);
    assert.match(await client.cmd('MAIL FROM:<alice@test.example> RET=HDRS ENVID=ok+2B1'), /^250 /);
    assert.match(await client.cmd('RCPT TO:<far@dsn.test> NOTIFY=NEVER,SUCCESS'), /^501 5\.5\.4 /);
    assert.match(await client.cmd('RCPT TO:<far@dsn.test> NOTIFY=SOMETIMES'), /^501 5\.5\.4 /);
    assert.match(await client.cmd('RCPT TO:<far@dsn.test> ORCPT=no-type'), /^501 5\.5\.4 /);
    assert.match(await client.cmd('RCPT TO:<far@dsn.test> ORCPT=rfc822;'), /^501 5\.5\.4 /);
    assert.match(await client.cmd('RCPT TO:<far@dsn.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;far+40dsn.test'), /^250 /);
    assert.match(await client.cmd('RSET'), /^250 /);
    client.close();
  });

  it('passes NOTIFY, ORCPT, RET and ENVID (xtext decoded) on to a next hop that offers DSN, and reports nothing itself', async () => {
    await pySend('pass-on', ['far@dsn.test'], ['RET=HDRS', 'ENVID=env+2B1+3Dx'], ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;Far+40dsn.test']);
    assert.equal(withDsn.got.length, 1);
    const got = withDsn.got[0]!;
    assert.equal(got.ret, 'HDRS');
    assert.equal(got.envid, 'env+1=x');
    assert.deepEqual(got.rcpt['far@dsn.test'], { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;Far@dsn.test' });
    assert.equal((await dsnsAbout('pass-on')).length, 0, 'the next hop notifies, not we');
  });

  it('NOTIFY=SUCCESS to a next hop without DSN: a "relayed" DSN with the envelope id, original recipient and RET=HDRS', async () => {
    await pySend('relayed', ['carol@plain.test'], ['RET=HDRS', 'ENVID=relayed-1'], ['NOTIFY=SUCCESS', 'ORCPT=rfc822;carol@plain.test']);
    assert.equal(without.got.length, 1);
    assert.equal(without.got[0]!.envid, null, 'nothing passed to a server that did not offer DSN');
    const [dsn, ...more] = await dsnsAbout('relayed');
    assert.ok(dsn, 'a DSN arrived');
    assert.equal(more.length, 0);
    assert.match(dsn.subject, /^Relayed: /);
    assert.equal(dsn.perMessage['original-envelope-id'], 'relayed-1');
    assert.equal(dsn.recipients[0]!['action'], 'relayed');
    assert.equal(dsn.recipients[0]!['original-recipient'], 'rfc822;carol@plain.test');
    assert.equal(dsn.recipients[0]!['final-recipient'], 'rfc822; carol@plain.test');
    assert.equal(dsn.returned, 'text/rfc822-headers');
    assert.doesNotMatch(dsn.returnedText, /body of relayed/);
  });

  it('NOTIFY=NEVER: no bounce; NOTIFY=FAILURE with RET=HDRS: a bounce with the envelope id, original recipient and the header only', async () => {
    without.refuse = () => ({ code: 550, text: '5.1.1 no such user' });
    await pySend('never', ['gone@plain.test'], [], ['NOTIFY=NEVER']);
    assert.equal((await dsnsAbout('never')).length, 0);
    await pySend('hdrs', ['gone@plain.test'], ['RET=HDRS', 'ENVID=bounce-7'], ['NOTIFY=FAILURE', 'ORCPT=rfc822;old-name@plain.test']);
    const [dsn] = await dsnsAbout('hdrs');
    assert.ok(dsn, 'a bounce arrived');
    assert.match(dsn.subject, /^Undeliverable: /);
    assert.equal(dsn.perMessage['original-envelope-id'], 'bounce-7');
    assert.equal(dsn.recipients[0]!['action'], 'failed');
    assert.equal(dsn.recipients[0]!['status'], '5.1.1');
    assert.equal(dsn.recipients[0]!['original-recipient'], 'rfc822;old-name@plain.test');
    assert.equal(dsn.returned, 'text/rfc822-headers');
    assert.match(dsn.returnedText, /Subject: hdrs/);
    assert.doesNotMatch(dsn.returnedText, /body of hdrs/);
  });

  it('swaks without DSN parameters: the bounce as before, with the whole message', async () => {
    without.refuse = () => ({ code: 550, text: '5.1.1 no such user' });
    const file = join(env.dir, 'swaks-dsn.eml');
    writeFileSync(file, message('swaks-bounce', 'gone@plain.test'));
    const r = await run('swaks', [
      '--timeout', '10m', '--server', `127.0.0.1:${sub.port}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'alice@test.example', '--auth-password', 'alice-pw',
      '--from', 'alice@test.example', '--to', 'gone@plain.test', '--helo', 'client.example', '--data', `@${file}`,
    ]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    await queue.runNow();
    const [dsn] = await dsnsAbout('swaks-bounce');
    assert.ok(dsn, 'a bounce arrived');
    assert.equal(dsn.recipients[0]!['action'], 'failed');
    assert.equal(dsn.recipients[0]!['original-recipient'], undefined);
    assert.equal(dsn.perMessage['original-envelope-id'], undefined);
    assert.equal(dsn.returned, 'message/rfc822');
  });

  it('NOTIFY=SUCCESS to a local mailbox: a "delivered" DSN', async () => {
    await pySend('local', ['bob@test.example'], ['ENVID=local-1'], ['NOTIFY=SUCCESS', 'ORCPT=rfc822;bob@test.example']);
    assert.ok((await folderMessages(env.ctx, bob)).some((m) => m.raw.includes('Subject: local')));
    const [dsn] = await dsnsAbout('local');
    assert.ok(dsn, 'a DSN arrived');
    assert.match(dsn.subject, /^Delivered: /);
    assert.equal(dsn.recipients[0]!['action'], 'delivered');
    assert.equal(dsn.recipients[0]!['original-recipient'], 'rfc822;bob@test.example');
    assert.equal(dsn.perMessage['original-envelope-id'], 'local-1');
    // a local recipient without NOTIFY=SUCCESS gets the message and the sender no notice
    await pySend('local-quiet', ['bob@test.example'], [], []);
    assert.equal((await dsnsAbout('local-quiet')).length, 0);
  });

  it('NOTIFY=DELAY: one "delayed" DSN at the first retry past the threshold, then the bounce when the schedule ends', async () => {
    without.refuse = () => ({ code: 451, text: '4.3.0 try later' });
    // schedule 60, 300, 3600 s after the first attempt; the notice after 200 s
    await pySend('slow', ['late@plain.test'], ['ENVID=slow-1'], ['NOTIFY=DELAY,FAILURE']);
    const entry = () => env.ctx.store.listQueue().then((q) => q.find((e) => e.recipients.includes('late@plain.test')));
    assert.equal((await entry())?.attempts, 1);
    ahead = 61_000; // the retry at 60 s: not yet past the threshold
    await queue.runNow();
    assert.equal((await entry())?.attempts, 2);
    assert.equal((await dsnsAbout('slow')).length, 0);
    ahead = 301_000; // the retry at 300 s: the first past 200 s
    await queue.runNow();
    const delayed = await dsnsAbout('slow');
    assert.equal(delayed.length, 1);
    assert.match(delayed[0]!.subject, /^Delayed: /);
    assert.equal(delayed[0]!.recipients[0]!['action'], 'delayed');
    assert.equal(delayed[0]!.recipients[0]!['status'], '4.3.0');
    assert.ok(delayed[0]!.recipients[0]!['will-retry-until']);
    assert.equal(delayed[0]!.perMessage['original-envelope-id'], 'slow-1');
    assert.equal(delayed[0]!.returned, 'text/rfc822-headers', 'a notice returns the header unless RET=FULL');
    assert.equal((await entry())?.delayNotified, true);
    ahead = 3_601_000; // the last retry: gives up, bounces; no second delay notice
    await queue.runNow();
    assert.equal(await entry(), undefined);
    const all = await dsnsAbout('slow');
    assert.deepEqual(all.map((d) => d.recipients[0]!['action']).sort(), ['delayed', 'failed']);
    ahead = 0;
  });
});
