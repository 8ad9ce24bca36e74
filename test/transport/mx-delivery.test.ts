import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listQueue, retryQueueEntry, startOutboundQueue, type OutboundQueue } from '../../src/transport/queue.js';
import { submitMessage } from '../../src/transport/submit.js';
import type { User } from '../../src/store/types.js';
import { TestDns } from '../helpers/dns-server.js';
import { freePortOn, LoopbackReceiver as Receiver } from '../helpers/smtp-receiver.js';
import { addUser, folderMessages, makeEnv, type TestEnv } from '../smtp/helpers.js';

const msg = (tag: string, to: string) => Buffer.from(`From: alice@test.example\r\nTo: ${to}\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@test.example>\r\n\r\nbody ${tag}\r\n`);

describe('delivery by MX (RFC 5321 5.1) through a loopback DNS server', () => {
  let dns: TestDns;
  let env: TestEnv;
  let queue: OutboundQueue;
  let alice: User;
  let primary: Receiver; // 127.0.0.2, MX 10 of far.test
  let backup: Receiver; // 127.0.0.3, MX 20 of far.test
  let bare: Receiver; // 127.0.0.4, the A record of nomx.test (no MX)

  before(async () => {
    dns = await new TestDns().start();
    const port = await freePortOn(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    env = await makeEnv({ dns: { servers: [dns.server] }, smtp: { deliveryPort: port, retrySchedule: [60, 60] } });
    primary = new Receiver('127.0.0.2', { tls: env.ctx.tls });
    backup = new Receiver('127.0.0.3', { tls: env.ctx.tls });
    bare = new Receiver('127.0.0.4', { tls: env.ctx.tls });
    await Promise.all([primary.up(port), backup.up(port), bare.up(port)]);
    dns.set('far.test', { MX: [{ preference: 20, exchange: 'mx2.far.test' }, { preference: 10, exchange: 'mx1.far.test' }] });
    dns.set('mx1.far.test', { A: ['127.0.0.2'] });
    dns.set('mx2.far.test', { A: ['127.0.0.3'] });
    dns.set('nomx.test', { A: ['127.0.0.4'] }); // exists, no MX: the implicit MX is the name itself
    dns.set('nullmx.test', { MX: [{ preference: 0, exchange: '' }] });
    // two addresses for one MX host: the first refuses connections (nothing listens on 127.0.0.5)
    dns.set('multi.test', { MX: [{ preference: 10, exchange: 'mx.multi.test' }] });
    dns.set('mx.multi.test', { A: ['127.0.0.5', '127.0.0.3'] });
    alice = await addUser(env.ctx, 'alice@test.example');
    queue = startOutboundQueue(env.ctx, { pollMs: 600_000 });
  });
  after(async () => {
    await queue.stop();
    await Promise.all([primary.down(), backup.down(), bare.down()]);
    await env.cleanup();
    await dns.stop();
  });
  beforeEach(() => {
    for (const r of [primary, backup, bare]) {
      r.got = [];
      r.refuse = () => null;
    }
  });

  const submit = (tag: string, to: string[]) => submitMessage(env.ctx, alice, { from: 'alice@test.example', to, raw: msg(tag, to.join(', ')), saveToSent: false });
  const dsns = async () => (await folderMessages(env.ctx, alice)).filter((m) => m.raw.includes('report-type=delivery-status'));

  it('delivers to the most preferred MX, over STARTTLS when offered', async () => {
    await submit('pref', ['bob@far.test']);
    await queue.runNow();
    assert.equal(primary.got.length, 1);
    assert.equal(backup.got.length, 0);
    assert.deepEqual(primary.got[0].to, ['bob@far.test']);
    assert.equal(primary.got[0].secure, true, 'opportunistic STARTTLS');
    assert.equal((await listQueue(env.ctx)).length, 0);
    const relayed = await env.ctx.events.list({ eventId: 1001 });
    assert.match(relayed[0].message, /through mx1\.far\.test \[127\.0\.0\.2\]:\d+/);
  });

  it('falls back to the next MX when the first does not answer', async () => {
    await primary.down();
    try {
      await submit('fallback', ['bob@far.test']);
      await queue.runNow();
      assert.equal(backup.got.length, 1);
    } finally {
      await primary.up(env.ctx.config.smtp.deliveryPort);
    }
  });

  it('tries every address of a host', async () => {
    await submit('multi', ['carol@multi.test']);
    await queue.runNow();
    assert.equal(backup.got.length, 1);
    assert.deepEqual(backup.got[0].to, ['carol@multi.test']);
  });

  it('uses the A record of a domain without MX records', async () => {
    await submit('nomx', ['dave@nomx.test']);
    await queue.runNow();
    assert.equal(bare.got.length, 1);
  });

  it('splits recipients by domain', async () => {
    await submit('split', ['bob@far.test', 'dave@nomx.test']);
    await queue.runNow();
    assert.deepEqual(primary.got.map((g) => g.to), [['bob@far.test']]);
    assert.deepEqual(bare.got.map((g) => g.to), [['dave@nomx.test']]);
  });

  it('retries a temporary failure on the queue\'s schedule, then delivers', async () => {
    primary.refuse = () => ({ code: 451, text: 'greylisted, try later' });
    await submit('temp', ['bob@far.test']);
    await queue.runNow();
    const [entry] = await listQueue(env.ctx);
    assert.equal(entry.attempts, 1);
    assert.match(entry.lastError ?? '', /451.*greylisted/);
    assert.ok(entry.nextAttempt.getTime() >= entry.createdAt.getTime() + 60_000, 'next attempt on the schedule (60 s after the first)');
    primary.refuse = () => null;
    assert.equal(await retryQueueEntry(env.ctx, entry.id), true);
    await queue.runNow();
    assert.equal((await listQueue(env.ctx)).length, 0);
    assert.equal(primary.got.length, 1);
  });

  it('bounces a permanent failure with a DSN (RFC 3464), and the null MX and a missing domain at once', async () => {
    primary.refuse = (r) => (r.startsWith('nobody') ? { code: 550, text: '5.1.1 no such user' } : null);
    const before = (await dsns()).length;
    await submit('perm', ['nobody@far.test', 'bob@far.test', 'x@nullmx.test', 'y@missing.test']);
    await queue.runNow();
    assert.deepEqual(primary.got.map((g) => g.to), [['bob@far.test']]);
    assert.equal((await listQueue(env.ctx)).length, 0);
    const all = await dsns();
    assert.equal(all.length, before + 1);
    const text = all.at(-1)!.raw.toString();
    assert.match(text, /Final-Recipient: rfc822; nobody@far\.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
    assert.match(text, /Final-Recipient: rfc822; x@nullmx\.test\r\nAction: failed\r\nStatus: 5\.1\.10/);
    assert.match(text, /Final-Recipient: rfc822; y@missing\.test\r\nAction: failed\r\nStatus: 5\.1\.2/);
  });

  it('asks the configured DNS server', () => {
    assert.ok(dns.asked.includes('MX far.test'));
    assert.ok(dns.asked.includes('A mx1.far.test'));
    assert.ok(dns.asked.includes('AAAA mx1.far.test'));
  });
});

/** A CA and a certificate it signed for `names`, made with openssl (the test's own PKI). */
function makePki(dir: string, names: string[]): { ca: string; key: string; cert: string } {
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Mailwarden test CA']);
  run(['req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${names[0]}`]);
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'ext.cnf']);
  return { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), key: readFileSync(join(dir, 'leaf.key'), 'utf8'), cert: readFileSync(join(dir, 'leaf.pem'), 'utf8') };
}

describe('MTA-STS (RFC 8461) enforce', () => {
  let dns: TestDns;
  let env: TestEnv;
  let queue: OutboundQueue;
  let alice: User;
  let good: Receiver; // 127.0.0.2: certificate from the trusted CA for mx1.sts.test
  let bad: Receiver; // 127.0.0.3: self-signed certificate (the server's own)
  let policyHost: https.Server;
  let pkiDir: string;

  before(async () => {
    dns = await new TestDns().start();
    pkiDir = mkdtempSync(join(tmpdir(), 'mw-pki-'));
    const pki = makePki(pkiDir, ['mx1.sts.test', 'mta-sts.sts.test', 'mta-sts.badsts.test']);
    const port = await freePortOn(['127.0.0.2', '127.0.0.3', '127.0.0.6']);
    policyHost = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
      const host = String(req.headers.host ?? '');
      const mx = host === 'mta-sts.sts.test' ? 'mx: mx1.sts.test\r\nmx: mx2.sts.test' : 'mx: *.badsts.test';
      if (req.url !== '/.well-known/mta-sts.txt') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`version: STSv1\r\nmode: enforce\r\n${mx}\r\nmax_age: 86400\r\n`);
    });
    await new Promise<void>((r) => policyHost.listen(port, '127.0.0.6', () => r()));
    env = await makeEnv({ dns: { servers: [dns.server] }, smtp: { deliveryPort: port, mtaStsPort: port, trustedCa: pki.ca, retrySchedule: [60] } });
    good = new Receiver('127.0.0.2', { tls: { key: pki.key, cert: pki.cert } });
    bad = new Receiver('127.0.0.3', { tls: env.ctx.tls });
    await Promise.all([good.up(port), bad.up(port)]);
    // sts.test: the preferred MX has an invalid certificate, the second a valid one; an MX outside the policy
    dns.set('sts.test', { MX: [{ preference: 5, exchange: 'rogue.elsewhere.test' }, { preference: 10, exchange: 'mx2.sts.test' }, { preference: 20, exchange: 'mx1.sts.test' }] });
    dns.set('_mta-sts.sts.test', { TXT: ['v=STSv1; id=20261206a'] });
    dns.set('mta-sts.sts.test', { A: ['127.0.0.6'] });
    dns.set('rogue.elsewhere.test', { A: ['127.0.0.3'] });
    dns.set('mx2.sts.test', { A: ['127.0.0.3'] });
    dns.set('mx1.sts.test', { A: ['127.0.0.2'] });
    // badsts.test: its only MX has no valid certificate
    dns.set('badsts.test', { MX: [{ preference: 10, exchange: 'mx.badsts.test' }] });
    dns.set('_mta-sts.badsts.test', { TXT: ['v=STSv1; id=1'] });
    dns.set('mta-sts.badsts.test', { A: ['127.0.0.6'] });
    dns.set('mx.badsts.test', { A: ['127.0.0.3'] });
    alice = await addUser(env.ctx, 'alice@test.example');
    queue = startOutboundQueue(env.ctx, { pollMs: 600_000 });
  });
  after(async () => {
    await queue.stop();
    await Promise.all([good.down(), bad.down()]);
    await new Promise<void>((r) => policyHost.close(() => r()));
    await env.cleanup();
    await dns.stop();
    rmSync(pkiDir, { recursive: true, force: true });
  });

  const submit = (tag: string, to: string) => submitMessage(env.ctx, alice, { from: 'alice@test.example', to: [to], raw: msg(tag, to), saveToSent: false });

  it('skips MX hosts outside the policy and one without a valid certificate; delivers over verified TLS', async () => {
    await submit('sts-ok', 'bob@sts.test');
    await queue.runNow();
    assert.equal(bad.got.length, 0, 'neither the rogue MX nor the one with a self-signed certificate got it');
    assert.equal(good.got.length, 1);
    assert.equal(good.got[0].secure, true);
    assert.equal((await listQueue(env.ctx)).length, 0);
  });

  it('keeps the message queued when no MX host has a valid certificate', async () => {
    await submit('sts-bad', 'carol@badsts.test');
    await queue.runNow();
    assert.equal(bad.got.length, 0);
    const [entry] = await listQueue(env.ctx);
    assert.ok(entry, 'still queued (a temporary failure, retried on the schedule)');
    assert.match(entry.lastError ?? '', /MTA-STS enforce/);
    assert.match(entry.lastError ?? '', /mx\.badsts\.test \[127\.0\.0\.3\]/);
  });
});
