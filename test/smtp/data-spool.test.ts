// Issue 14 item 4: SMTP DATA past the connection input budget goes to a spool file in the data
// folder, not memory (the memory side is test/hardening/slow-reader.test.ts). Here: the message
// that went through the spool is delivered byte for byte, one over the size limit is refused with
// nothing left behind, and a spool file left by a process that died is removed at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import net from 'node:net';
import { eventually, startTestServer } from '../helpers/server.js';
import { prepareSpool, spoolDir } from '../../src/protocols/smtp/data-spool.js';
import { tempDir } from '../helpers/tmp.js';

test('a message larger than the input budget is spooled and delivered intact; one over the size limit is refused and leaves no file', { timeout: 300_000 }, async () => {
  const srv = await startTestServer();
  try {
    const bob = await srv.addUser('bob@test.example');
    await srv.setSetting('Connection Input Budget Bytes', '65536');
    await srv.setSetting('SmtpSettings.MaxMessageSize', String(3 * 1024 * 1024));
    const tr = createTransport({ host: '127.0.0.1', port: srv.port('smtp'), secure: false, ignoreTLS: true });
    // every byte value a text body can carry, over 2 MB: 32 times the budget
    const text = Array.from({ length: 30_000 }, (_, i) => `${i} ${'abcdefghijklmnopqrstuvwxyz'.repeat(2)} \u00e9\u20ac`).join('\r\n');
    const info = await tr.sendMail({ from: 'someone@remote.example', to: bob.address, subject: 'spooled', text, headers: { 'Message-ID': '<spooled@remote.example>' } });
    assert.match(info.response, /^250 /);
    const inbox = await srv.ctx.store.getSpecialFolder(bob.id, '\\Inbox');
    const [item] = (await srv.ctx.store.listMessagePage(bob.id, inbox.id, 0, 1)).items;
    const raw = (await srv.ctx.store.readBlob(item!.blobHash)).toString('utf8');
    assert.ok(item!.size > 2 * 1024 * 1024, `${item!.size} bytes stored`);
    assert.match(raw, /Message-ID: <spooled@remote\.example>/);
    // the body as nodemailer encoded it (quoted-printable), whole: the last line is there, in order
    assert.match(raw, /29999 abcdefghijklmnopqrstuvwxyz/);
    assert.equal(readdirSync(spoolDir(srv.dataDir)).length, 0, 'the spool file is removed once delivered');

    await assert.rejects(tr.sendMail({ from: 'someone@remote.example', to: bob.address, subject: 'too big', text: 'x'.repeat(4 * 1024 * 1024) }), /552/);
    assert.equal(readdirSync(spoolDir(srv.dataDir)).length, 0, 'nothing is left of a refused message');
    tr.close();

    // a client that goes away in the middle of DATA leaves nothing in the spool either
    const s = net.connect(srv.port('smtp'), '127.0.0.1');
    s.on('error', () => undefined);
    const said = (re: RegExp) => new Promise<void>((resolve) => {
      let got = '';
      const on = (d: Buffer) => { got += d.toString('latin1'); if (re.test(got)) { s.off('data', on); resolve(); } };
      s.on('data', on);
    });
    await said(/^220 /m);
    s.write(`EHLO gone.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<${bob.address}>\r\nDATA\r\n`);
    await said(/^354 /m);
    s.write(Buffer.alloc(1024 * 1024, 'y\r\n'));
    await eventually(async () => readdirSync(spoolDir(srv.dataDir)).length === 1, 'the message to be spooled');
    s.destroy();
    await eventually(async () => readdirSync(spoolDir(srv.dataDir)).length === 0, 'the spool file of the message cut off to be removed');
  } finally {
    await srv.close();
  }
});

test('spool files left by a process that died mid-DATA are removed when the spool is prepared', () => {
  const tmp = tempDir();
  try {
    const dir = spoolDir(tmp.dir);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'left-over.part'), 'half a message');
    prepareSpool(dir);
    assert.ok(existsSync(dir));
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    tmp.cleanup();
  }
});
