import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { deleteQueueEntry, listQueue, retryQueueEntry, startOutboundQueue, type OutboundQueue } from '../../src/transport/queue.js';
import { submitMessage } from '../../src/transport/submit.js';
import type { User } from '../../src/store/types.js';
import { addUser, folderMessages, makeEnv, type TestEnv } from './helpers.js';

interface Received { from: string; to: string[]; raw: Buffer }

/** A second smtp-server playing the smart host; `refuse` decides per recipient. */
class SmartHost {
  received: Received[] = [];
  refuse: (rcpt: string) => { code: number; text: string } | null = () => null;
  private server: SMTPServer | null = null;

  constructor(readonly port: number) {}

  async up(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false, disableReverseLookup: true, hideENHANCEDSTATUSCODES: false,
      onRcptTo: (a, _s, cb) => {
        const r = this.refuse(a.address);
        if (!r) return cb();
        const err = Object.assign(new Error(r.text), { responseCode: r.code });
        cb(err);
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          this.received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
  }

  down(): Promise<void> {
    const s = this.server;
    this.server = null;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const msg = (tag: string) => Buffer.from(`From: alice@test.example\r\nTo: someone@far.example\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@test.example>\r\n\r\nbody ${tag}\r\n`);

/**
 * A queue through a smart host on a free port (down until host.up()), driven by runNow() (a long
 * poll), on a clock that runs `clock.ahead` ms ahead of the real one: tests move it past retry
 * times instead of sleeping through them.
 */
async function queueThroughSmartHost(retrySchedule: number[]) {
  const port = await freePort();
  const host = new SmartHost(port);
  const env = await makeEnv({ smtp: { smartHost: { host: '127.0.0.1', port, tls: 'none' }, retrySchedule } });
  const alice = await addUser(env.ctx, 'alice@test.example');
  const clock = { ahead: 0 };
  const queue = startOutboundQueue(env.ctx, { pollMs: 600_000, clock: () => new Date(Date.now() + clock.ahead) });
  const stop = async () => {
    await queue.stop();
    await host.down();
    await env.cleanup();
  };
  return { host, env, alice, clock, queue, stop };
}

describe('outbound queue through the smart host', () => {
  let env: TestEnv;
  let host: SmartHost;
  let queue: OutboundQueue;
  let alice: User;
  // The retry schedule counts from an entry's creation. With offsets of 1 s, a loaded machine that
  // took longer than that between the submission and an attempt made the entry due again at once,
  // and the next pass (a wake-up's, then runNow's) attempted it twice. The offsets are a minute of
  // real time, and the test moves the queue's clock past a retry time instead of sleeping through it.
  let clock: { ahead: number };

  let stop: () => Promise<void>;

  before(async () => {
    ({ host, env, alice, clock, queue, stop } = await queueThroughSmartHost([60, 60, 60]));
  });
  after(() => stop());

  const dsns = async () => (await folderMessages(env.ctx, alice)).filter((m) => m.raw.includes('report-type=delivery-status'));

  it('retries while the smart host is down, then returns a DSN', async () => {
    const r = await submitMessage(env.ctx, alice, { from: 'alice@test.example', to: ['someone@far.example'], raw: msg('down'), saveToSent: false });
    assert.ok(r.queueId);
    await queue.runNow();
    let [entry] = await listQueue(env.ctx);
    assert.equal(entry.attempts, 1);
    assert.ok(entry.lastError && /ECONNREFUSED|connect/i.test(entry.lastError), entry.lastError ?? '');
    // the schedule counts from the entry's creation: the first retry is due 60 s after it
    assert.ok(entry.nextAttempt.getTime() >= entry.createdAt.getTime() + 60_000, 'next attempt is scheduled, not immediate');

    // an administrator's retry makes it due at once
    assert.equal(await retryQueueEntry(env.ctx, entry.id), true);
    await queue.runNow();
    [entry] = await listQueue(env.ctx);
    assert.equal(entry.attempts, 2);

    // the schedule [60,60,60] allows 3 retries after the first attempt: 4 attempts in all
    clock.ahead += 61_000;
    await queue.runNow();
    assert.equal((await listQueue(env.ctx))[0]?.attempts, 3);
    await queue.runNow();
    assert.equal((await listQueue(env.ctx)).length, 0, 'given up after the last retry');
    clock.ahead = 0; // the other tests' entries follow the schedule from their own creation

    const deferred = await env.ctx.events.list({ eventId: 1010 });
    assert.equal(deferred.length, 3);
    assert.match(deferred[0].message, /deferred after attempt 1/);
    const failed = await env.ctx.events.list({ eventId: 1020 });
    assert.equal(failed.length, 1);
    const [dsn] = await dsns();
    assert.ok(dsn, 'DSN in the sender\'s Inbox');
    const text = dsn.raw.toString();
    assert.match(text, /^Return-Path: <>\r\n/);
    assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status;/);
    assert.match(text, /Final-Recipient: rfc822; someone@far\.example\r\nAction: failed\r\nStatus: 4\.\d\.\d/);
    assert.match(text, /Subject: Undeliverable: down/);
    assert.match(text, /Content-Type: message\/rfc822\r\n\r\n(Received: .*\r\n)?From: alice@test\.example/s);
  });

  it('returns a DSN at once when the smart host refuses permanently', async () => {
    await host.up();
    host.refuse = (rcpt) => (rcpt.startsWith('bad') ? { code: 550, text: 'no such user here' } : null);
    const before = (await dsns()).length;
    await submitMessage(env.ctx, alice, { from: 'alice@test.example', to: ['bad@far.example', 'fine@far.example'], raw: msg('perm'), saveToSent: false });
    await queue.runNow();
    assert.equal((await listQueue(env.ctx)).length, 0);
    const all = await dsns();
    assert.equal(all.length, before + 1);
    const text = all[all.length - 1].raw.toString();
    assert.match(text, /Final-Recipient: rfc822; bad@far\.example\r\nAction: failed\r\nStatus: 5\.1\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 no such user here/);
    assert.doesNotMatch(text, /Final-Recipient: rfc822; fine@/);
    const got = host.received.find((m) => m.raw.includes('Subject: perm'));
    assert.ok(got);
    assert.deepEqual(got.to, ['fine@far.example']);
    const relayed = await env.ctx.events.list({ eventId: 1001 });
    assert.ok(relayed.some((e) => e.data[2] === 'fine@far.example'));
  });

  it('relays when the smart host accepts, and keeps only deferred recipients queued', async () => {
    let flaky = 0;
    host.refuse = (rcpt) => (rcpt.startsWith('flaky') && flaky++ === 0 ? { code: 451, text: 'try later' } : null);
    const raw = msg('accept');
    await submitMessage(env.ctx, alice, { from: 'alice@test.example', to: ['ok@far.example', 'flaky@far.example'], raw, saveToSent: false });
    await queue.runNow();
    const left = await listQueue(env.ctx);
    assert.equal(left.length, 1);
    assert.deepEqual(left[0].recipients, ['flaky@far.example']);
    assert.equal(left[0].attempts, 1);
    await retryQueueEntry(env.ctx, left[0].id);
    await queue.runNow();
    assert.equal((await listQueue(env.ctx)).length, 0, 'queue empty');
    const copies = host.received.filter((m) => m.raw.includes('Subject: accept'));
    assert.deepEqual(copies.map((c) => c.to), [['ok@far.example'], ['flaky@far.example']]);
    for (const c of copies) {
      assert.equal(c.from, 'alice@test.example');
      assert.ok(c.raw.subarray(c.raw.length - raw.length).equals(raw), 'relayed bytes are the submitted bytes');
    }
    const relayed = await env.ctx.events.list({ eventId: 1001 });
    assert.ok(relayed.some((e) => e.data[2] === 'flaky@far.example' && e.data[3] === `127.0.0.1:${host.port}`));
  });

  it('lets an administrator delete an entry', async () => {
    await host.down();
    const r = await submitMessage(env.ctx, alice, { from: 'alice@test.example', to: ['x@far.example'], raw: msg('delete'), saveToSent: false });
    await queue.runNow();
    assert.equal(await deleteQueueEntry(env.ctx, r.queueId!), true);
    assert.equal(await deleteQueueEntry(env.ctx, r.queueId!), false);
    assert.equal(await retryQueueEntry(env.ctx, r.queueId!), false);
    assert.equal((await listQueue(env.ctx)).length, 0);
  });
});

describe('outbound queue behind its schedule', () => {
  let env: TestEnv;
  let host: SmartHost;
  let queue: OutboundQueue;
  let alice: User;
  let clock: { ahead: number };

  let stop: () => Promise<void>;

  before(async () => {
    // the smart host stays down: every attempt fails temporarily
    ({ host, env, alice, clock, queue, stop } = await queueThroughSmartHost([60, 300, 900]));
  });
  after(() => stop());

  it('after downtime, retries keep the schedule\'s spacing from now instead of running out at once', async () => {
    await submitMessage(env.ctx, alice, { from: 'alice@test.example', to: ['someone@far.example'], raw: msg('late'), saveToSent: false });
    // the server was down for ten hours: every offset of the schedule lies in the past
    clock.ahead = 10 * 3600_000;
    const at1 = Date.now() + clock.ahead; // no later than the attempt's own clock reading
    await queue.runNow();
    let [entry] = await listQueue(env.ctx);
    assert.equal(entry.attempts, 1);
    assert.ok(entry.nextAttempt.getTime() >= at1 + 60_000, 'the first retry 60 s after this attempt');
    // a pass before then attempts nothing
    await queue.runNow();
    assert.equal((await listQueue(env.ctx))[0]?.attempts, 1);
    clock.ahead += 61_000;
    const at2 = Date.now() + clock.ahead;
    await queue.runNow();
    [entry] = await listQueue(env.ctx);
    assert.equal(entry.attempts, 2);
    assert.ok(entry.nextAttempt.getTime() >= at2 + 240_000, 'the second retry 300 - 60 s after this attempt');
    await queue.runNow();
    assert.equal((await listQueue(env.ctx))[0]?.attempts, 2, 'not attempted again at once');
  });
});
