import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth';
import { activateDkimKey, createDkimKey, listDkimKeys, removeDkimKey } from '../../src/transport/dkim-keys.js';
import { signOutbound } from '../../src/transport/dkim-sign.js';
import { createLog } from '../../src/observability/log.js';
import { cli } from '../cli/run-cli.js';
import { run } from '../helpers/run.js';
import { SMTPServer } from 'smtp-server';
import { startOutboundQueue } from '../../src/transport/queue.js';
import { submitMessage } from '../../src/transport/submit.js';
import { addUser, makeEnv } from '../smtp/helpers.js';

/** The message a user submits (headers mailauth signs by default: From, To, Subject, Date, Message-ID, MIME headers). */
const message = (from = 'Alice <alice@example.test>') =>
  Buffer.from([
    `From: ${from}`, 'To: bob@far.example', 'Subject: DKIM test', 'Date: Mon, 01 Jan 2024 10:00:00 +0000',
    'Message-ID: <dkim-1@example.test>', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '',
    'Hello Bob,', '', 'a line with trailing spaces   ', '.a line starting with a dot', '', '',
  ].join('\r\n'));

/** What `selector._domainkey.domain` would answer in DNS, from the keys the CLI made. */
function txtResolver(dataDir: string) {
  return async (name: string, type: string): Promise<string[][]> => {
    const k = listDkimKeys(dataDir).find((x) => `${x.selector}._domainkey.${x.domain}` === name.toLowerCase());
    if (type !== 'TXT' || !k) throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
    return [k.record.match(/.{1,250}/g)!];
  };
}

/** Python dkimpy (Debian python3-dkim), an implementation independent of mailauth, verifies every signature. */
async function dkimpyVerify(raw: Buffer, dataDir: string): Promise<{ code: number; out: string }> {
  const records = Object.fromEntries(listDkimKeys(dataDir).map((k) => [`${k.selector}._domainkey.${k.domain}.`, k.record]));
  const script = [
    'import sys, json, dkim',
    'records = json.loads(sys.argv[1])',
    'def dns(name, timeout=5):',
    '    n = name.decode() if isinstance(name, bytes) else name',
    '    r = records.get(n)',
    '    return r.encode() if r else None',
    'msg = sys.stdin.buffer.read()',
    'd = dkim.DKIM(msg)',
    'sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]',
    'ok = [d.verify(idx=i, dnsfunc=dns) for i in range(len(sigs))]',
    'print(len(sigs), ok)',
    'sys.exit(0 if sigs and all(ok) else 1)',
  ].join('\n');
  // /usr/bin/python3: Debian's interpreter, where python3-dkim is installed (a python3 earlier on PATH may not have it)
  const r = await run('/usr/bin/python3', ['-c', script, JSON.stringify(records)], { input: raw });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

describe('DKIM signing (RFC 6376, RFC 8463)', () => {
  let dir: string;
  const log = createLog('silent');
  const ctx = () => ({ dataDir: dir, store: storeKey, log });
  const storeKey = {} as never;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mw-dkim-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('mailwarden dkim create prints the TXT record and keeps the key private', () => {
    const r = cli(['dkim', 'create', 'Example.TEST', '--selector', 's1', '--data', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /name: {2}s1\._domainkey\.example\.test/);
    assert.match(r.stdout, /value: v=DKIM1; k=rsa; p=MII[A-Za-z0-9+/=]+/);
    assert.match(r.stdout, /s1\._domainkey\.example\.test\. IN TXT \( "v=DKIM1; k=rsa; p=[^"]{200,}" "[^"]+" \)/);
    assert.equal(statSync(join(dir, 'dkim', 'example.test', 's1.pem')).mode & 0o777, 0o600);
    const e = cli(['dkim', 'create', 'example.test', '--selector', 'e1', '--algorithm', 'ed25519', '--json', '--data', dir]);
    assert.equal(e.code, 0, e.stderr);
    const key = JSON.parse(e.stdout);
    assert.equal(key.state, 'active');
    assert.equal(key.algorithm, 'ed25519-sha256');
    assert.match(key.record, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/); // 32 bytes, RFC 8463 4
    // bad input: exit 2, nothing changed
    for (const bad of [['dkim', 'create', 'not a domain'], ['dkim', 'create', 'example.test', '--selector', 's1'], ['dkim', 'create', 'example.test', '--algorithm', 'dsa']]) {
      const b = cli([...bad, '--data', dir]);
      assert.equal(b.code, 2, b.stdout);
    }
    assert.equal(listDkimKeys(dir).length, 2);
  });

  it('signs with rsa-sha256 and ed25519-sha256; mailauth and dkimpy both verify', async () => {
    const signed = await signOutbound(ctx(), message());
    const text = signed.toString();
    assert.equal((text.match(/^DKIM-Signature:/gim) ?? []).length, 2);
    assert.match(text, /a=rsa-sha256;[^]*d=example\.test;[^]*s=s1;/);
    assert.match(text, /a=ed25519-sha256;[^]*s=e1;/);
    assert.ok(signed.subarray(signed.length - message().length).equals(message()), 'the message itself is unchanged');
    const v = await dkimVerify(signed, { resolver: txtResolver(dir) });
    assert.deepEqual(v.results.map((r) => [r.signingDomain, r.selector, (r as { algo?: string }).algo ?? r.algorithm, r.status.result]).sort(), [
      ['example.test', 'e1', 'ed25519-sha256', 'pass'],
      ['example.test', 's1', 'rsa-sha256', 'pass'],
    ]);
    const py = await dkimpyVerify(signed, dir);
    assert.equal(py.code, 0, py.out);
    assert.match(py.out, /^2 \[True, True\]/);
  });

  it('a changed body or From: fails verification', async () => {
    const signed = await signOutbound(ctx(), message());
    const tampered = Buffer.from(signed.toString().replace('Hello Bob', 'Hello Eve'));
    const v = await dkimVerify(tampered, { resolver: txtResolver(dir) });
    // mailauth calls a body hash mismatch "neutral" (RFC 6376 6.3 leaves the result name to the verifier): not a pass
    assert.ok(v.results.every((r) => r.status.result !== 'pass'), JSON.stringify(v.results.map((r) => r.status)));
    assert.notEqual((await dkimpyVerify(tampered, dir)).code, 0);
    const forged = Buffer.from(signed.toString().replace('From: Alice <alice@example.test>', 'From: Mallory <alice@example.test>'));
    assert.ok((await dkimVerify(forged, { resolver: txtResolver(dir) })).results.every((r) => r.status.result === 'fail'));
    assert.notEqual((await dkimpyVerify(forged, dir)).code, 0);
  });

  it('leaves mail from a domain without a key unsigned', async () => {
    const raw = message('someone@other.test');
    assert.equal(await signOutbound(ctx(), raw), raw);
  });

  it('rotates: a new key waits until activated, then signs; the old one is retired and removable', async () => {
    const r = cli(['dkim', 'create', 'example.test', '--selector', 's2', '--data', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pending/);
    assert.match(r.stdout, /mailwarden dkim activate example\.test s2/);
    assert.match((await signOutbound(ctx(), message())).toString(), /s=s1;/);
    activateDkimKey(dir, 'example.test', 's2');
    const signed = await signOutbound(ctx(), message());
    assert.match(signed.toString(), /s=s2;/);
    assert.doesNotMatch(signed.toString(), /s=s1;/);
    const v = await dkimVerify(signed, { resolver: txtResolver(dir) });
    assert.ok(v.results.every((x) => x.status.result === 'pass'));
    assert.equal(listDkimKeys(dir).find((k) => k.selector === 's1')!.state, 'retired');
    assert.throws(() => removeDkimKey(dir, 'example.test', 's2'), /signs example\.test's mail now/);
    removeDkimKey(dir, 'example.test', 's1');
    assert.deepEqual(listDkimKeys(dir).map((k) => k.selector).sort(), ['e1', 's2']);
    const list = cli(['dkim', 'list', '--data', dir]);
    assert.match(list.stdout, /example\.test +s2 +rsa-sha256 +active/);
  });

  it('a key made in another process applies to the next message (no restart)', async () => {
    createDkimKey(dir, { domain: 'second.test', selector: 'k1', algorithm: 'ed25519-sha256' });
    const signed = await signOutbound(ctx(), message('carol@second.test'));
    assert.match(signed.toString(), /d=second\.test;/);
  });
});

describe('DKIM through the outbound queue', () => {
  it('a submitted message reaches the smart host signed, and verifies', async () => {
    const received: Buffer[] = [];
    let got!: () => void;
    const arrived = new Promise<void>((r) => (got = r));
    const host = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false, disableReverseLookup: true,
      onData(stream, _session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push(Buffer.concat(chunks));
          cb();
          got();
        });
      },
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
    const port = (host.server.address() as { port: number }).port;
    const env = await makeEnv({ smtp: { smartHost: { host: '127.0.0.1', port, tls: 'none' } } });
    const queue = startOutboundQueue(env.ctx, { pollMs: 600_000 });
    try {
      createDkimKey(env.dir, { domain: 'test.example', selector: 'q1' });
      const alice = await addUser(env.ctx, 'alice@test.example');
      await submitMessage(env.ctx, alice, { from: 'alice@test.example', to: ['bob@far.example'], raw: message('alice@test.example'), saveToSent: false });
      await queue.runNow();
      await arrived;
      const v = await dkimVerify(received[0], { resolver: txtResolver(env.dir) });
      assert.deepEqual(v.results.map((r) => [r.signingDomain, r.selector, r.status.result]), [['test.example', 'q1', 'pass']]);
    } finally {
      await queue.stop();
      await new Promise<void>((r) => host.close(() => r()));
      await env.cleanup();
    }
  });
});
