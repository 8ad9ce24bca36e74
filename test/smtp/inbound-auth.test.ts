import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { startSmtpServer } from '../../src/protocols/smtp/server.js';
import type { Listener } from '../../src/server/listener.js';
import type { User } from '../../src/store/types.js';
import { createDkimKey } from '../../src/transport/dkim-keys.js';
import { signOutbound } from '../../src/transport/dkim-sign.js';
import { createLog } from '../../src/observability/log.js';
import { TestDns } from '../helpers/dns-server.js';
import { addUser, folderMessages, makeEnv, type TestEnv } from './helpers.js';

const message = (from: string, tag: string, extra = '') =>
  Buffer.from(`${extra}From: <${from}>\r\nTo: <alice@test.example>\r\nSubject: ${tag}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <${tag}@x>\r\n\r\nbody of ${tag}\r\n`);

/** The top-level header block of a stored message, unfolded. */
const headerOf = (raw: Buffer) => raw.toString().split('\r\n\r\n')[0].replace(/\r\n[ \t]+/g, ' ');

describe('inbound SPF, DKIM, DMARC checks (Authentication-Results, RFC 8601)', () => {
  let dns: TestDns;
  let env: TestEnv;
  let mx: Listener;
  let alice: User;
  let senderKeys: string;
  const senderCtx = () => ({ dataDir: senderKeys, store: {} as never, log: createLog('silent') });

  before(async () => {
    dns = await new TestDns().start();
    senderKeys = mkdtempSync(join(tmpdir(), 'mw-sender-dkim-'));
    // good.test: our loopback address may send for it, it signs, its DMARC says reject
    const key = createDkimKey(senderKeys, { domain: 'good.test', selector: 'sel1' });
    dns.set('good.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    dns.set('sel1._domainkey.good.test', { TXT: [key.record] });
    dns.set('_dmarc.good.test', { TXT: ['v=DMARC1; p=reject'] });
    // forged.test: only 192.0.2.1 may send for it, p=reject
    dns.set('forged.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] });
    dns.set('_dmarc.forged.test', { TXT: ['v=DMARC1; p=reject'] });
    // quarantined.test: p=quarantine
    dns.set('quarantined.test', { TXT: ['v=spf1 -all'] });
    dns.set('_dmarc.quarantined.test', { TXT: ['v=DMARC1; p=quarantine'] });
    env = await makeEnv({ dns: { servers: [dns.server] } });
    alice = await addUser(env.ctx, 'alice@test.example');
    mx = await startSmtpServer(env.ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' });
  });
  after(async () => {
    await mx.close();
    await env.cleanup();
    await dns.stop();
    rmSync(senderKeys, { recursive: true, force: true });
  });

  async function send(from: string, raw: Buffer, envelopeFrom = from) {
    const t = createTransport({ host: '127.0.0.1', port: mx.port, secure: false, ignoreTLS: true, name: 'client.good.test' });
    try {
      return await t.sendMail({ envelope: { from: envelopeFrom, to: ['alice@test.example'] }, raw });
    } finally {
      t.close();
    }
  }
  const setAction = async (v: string | null) => {
    if (v === null) await env.ctx.store.deleteSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.DmarcRejectAction' });
    else await env.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.DmarcRejectAction', value: v });
    await env.ctx.settings.refresh();
  };
  const find = async (tag: string, use: '\\Inbox' | '\\Junk' = '\\Inbox') => (await folderMessages(env.ctx, alice, use as '\\Inbox')).find((m) => m.raw.includes(`Subject: ${tag}\r\n`));

  it('a signed message from an allowed address passes SPF, DKIM and DMARC', async () => {
    const signed = await signOutbound(senderCtx(), message('bob@good.test', 'valid'));
    await send('bob@good.test', signed);
    const m = await find('valid');
    assert.ok(m, 'delivered to the Inbox');
    const h = headerOf(m.raw);
    assert.match(h, /^Return-Path: <bob@good\.test>\r\nReceived-SPF: pass /);
    assert.match(h, /\r\nAuthentication-Results: mx\.test\.example; [^\r]*dkim=pass header\.i=@good\.test header\.s=sel1 header\.a=rsa-sha256/);
    assert.match(h, /spf=pass [^\r]*smtp\.mailfrom=bob@good\.test/);
    assert.match(h, /dmarc=pass [^\r]*header\.from=good\.test/);
    // the checks' lines come before this server's Received: line
    assert.ok(h.indexOf('Authentication-Results:') < h.indexOf('\r\nReceived: from'));
  });

  it('a forged sender under p=reject is refused with 550 5.7.1 (SmtpSettings.DmarcRejectAction = Reject)', async () => {
    await assert.rejects(send('ceo@forged.test', message('ceo@forged.test', 'forged-1')), (err: { responseCode?: number; response?: string }) => {
      assert.equal(err.responseCode, 550);
      assert.match(err.response ?? '', /^550 5\.7\.1 DMARC policy of forged\.test \(p=reject\) failed/);
      return true;
    });
    assert.equal(await find('forged-1'), undefined);
  });

  it('Junk: the same message lands in Junk Email with dmarc=fail; HeaderOnly: in the Inbox', async () => {
    await setAction('Junk');
    try {
      await send('ceo@forged.test', message('ceo@forged.test', 'forged-junk'));
      const j = await find('forged-junk', '\\Junk');
      assert.ok(j, 'in Junk Email');
      assert.match(headerOf(j.raw), /spf=fail [^\r]*dmarc=fail [^\r]*header\.from=forged\.test/);
      assert.equal(await find('forged-junk'), undefined);
      await setAction('HeaderOnly');
      await send('ceo@forged.test', message('ceo@forged.test', 'forged-header'));
      const i = await find('forged-header');
      assert.ok(i, 'in the Inbox');
      assert.match(headerOf(i.raw), /dmarc=fail/);
    } finally {
      await setAction(null);
    }
  });

  it('p=quarantine failures go to Junk Email', async () => {
    await send('x@quarantined.test', message('x@quarantined.test', 'quarantined'));
    assert.ok(await find('quarantined', '\\Junk'));
  });

  it('a signed message changed on the way fails DKIM; from a foreign envelope sender DMARC fails too', async () => {
    const signed = await signOutbound(senderCtx(), message('bob@good.test', 'tampered'));
    const changed = Buffer.from(signed.toString().replace('body of tampered', 'body of tampered, changed'));
    await setAction('HeaderOnly');
    try {
      await send('bob@good.test', changed, 'bounce@elsewhere.test');
      const m = await find('tampered');
      assert.ok(m);
      const h = headerOf(m.raw);
      assert.doesNotMatch(h, /dkim=pass/);
      assert.match(h, /dkim=(neutral|fail)/);
      assert.match(h, /dmarc=fail/);
    } finally {
      await setAction(null);
    }
  });

  it('removes an Authentication-Results header that claims to be ours, keeps other servers\' ones', async () => {
    const forgedResults = 'Authentication-Results: mx.test.example; dkim=pass header.d=forged.test; dmarc=pass\r\nAuthentication-Results: other.example; spf=pass\r\n';
    await setAction('HeaderOnly');
    try {
      await send('ceo@forged.test', message('ceo@forged.test', 'claims', forgedResults));
      const h = headerOf((await find('claims'))!.raw);
      assert.doesNotMatch(h, /dmarc=pass/);
      assert.equal((h.match(/Authentication-Results: mx\.test\.example;/g) ?? []).length, 1);
      assert.match(h, /Authentication-Results: other\.example; spf=pass/);
    } finally {
      await setAction(null);
    }
  });

  it('SmtpSettings.InboundAuthentication false delivers without checks', async () => {
    await env.ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.InboundAuthentication', value: 'false' });
    await env.ctx.settings.refresh();
    try {
      await send('ceo@forged.test', message('ceo@forged.test', 'unchecked'));
      const m = await find('unchecked');
      assert.ok(m);
      assert.doesNotMatch(headerOf(m.raw), /Authentication-Results/);
    } finally {
      await env.ctx.store.deleteSetting({ scope: 'server', targetId: 0, name: 'SmtpSettings.InboundAuthentication' });
      await env.ctx.settings.refresh();
    }
  });
});
