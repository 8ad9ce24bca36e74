// Issue 14 item 4: slow SMTP clients are cut off by deadlines that trickled bytes cannot extend,
// and each listener holds at most SmtpSettings.MaxConnections; all live settings, each bite an
// event. The test waits for the server's answer and close (events), never for a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTransport } from 'nodemailer';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from './helpers.js';

/** Sends one byte at a time (the attacker's pace, not a wait) until the server closes; resolves with its last reply. */
async function trickle(c: RawSmtp, bytes: string): Promise<string> {
  let i = 0;
  const timer = setInterval(() => c.write(bytes[i++ % bytes.length]!), 100);
  try {
    return await c.reply();
  } finally {
    clearInterval(timer);
  }
}

async function normalMessage(srv: TestServer, subject: string): Promise<void> {
  const t = createTransport({ host: '127.0.0.1', port: srv.port('smtp'), secure: false, ignoreTLS: true });
  try {
    const info = await t.sendMail({ from: 'someone@remote.example', to: 'alice@test.example', subject, text: 'hello' });
    assert.match(info.response, /^250 /);
  } finally {
    t.close();
  }
}

/** The cut-off events for a setting, once the first is written (the event log writes after the answer). */
const cutOffEvents = (srv: TestServer, setting: string) => eventually(async () => {
  const found = (await srv.ctx.store.listEvents({ eventId: 1030, provider: 'MSExchangeFrontEndTransport' })).filter((e) => e.data[2] === setting);
  return found.length ? found : null;
}, `event 1030 for ${setting}`);

test('a command trickled one byte at a time is cut off at SmtpSettings.CommandTimeout, with event 1030; others are served', async () => {
  const srv = await startTestServer();
  try {
    await srv.addUser('alice@test.example');
    await srv.setSetting('SmtpSettings.CommandTimeout', '1');
    const { client: slow } = await RawSmtp.connect(srv.port('smtp'));
    const last = trickle(slow, 'EHLO slow.example');
    await normalMessage(srv, 'served meanwhile');
    assert.match(await last, /^421 4\.4\.2 command not completed within 1 seconds \(SmtpSettings\.CommandTimeout\)/);
    const events = (await cutOffEvents(srv, 'SmtpSettings.CommandTimeout'))!;
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.data.slice(0, 2), ['127.0.0.1', 'smtp']);
    // pipelined whole lines never start the deadline
    const { client: quick } = await RawSmtp.connect(srv.port('smtp'));
    assert.match(await quick.cmd('EHLO quick.example'), /^250/);
    assert.match(await quick.cmd('NOOP'), /^250/);
    assert.match(await quick.cmd('QUIT'), /^221/);
  } finally {
    await srv.close();
  }
});

test('a message trickled after DATA is cut off at SmtpSettings.DataTimeout and not stored', async () => {
  const srv = await startTestServer();
  try {
    const alice = await srv.addUser('alice@test.example');
    await srv.setSetting('SmtpSettings.DataTimeout', '1');
    const { client: slow } = await RawSmtp.connect(srv.port('smtp'));
    assert.match(await slow.cmd('EHLO slow.example'), /^250/);
    assert.match(await slow.cmd('MAIL FROM:<a@remote.example>'), /^250/);
    assert.match(await slow.cmd('RCPT TO:<alice@test.example>'), /^250/);
    assert.match(await slow.cmd('DATA'), /^354/);
    // whole lines, slowly: each one would reset an idle timer
    assert.match(await trickle(slow, 'Subject: slow\r\n'), /^421 4\.4\.2 message not completed within 1 seconds \(SmtpSettings\.DataTimeout\)/);
    assert.equal((await cutOffEvents(srv, 'SmtpSettings.DataTimeout'))!.length, 1);
    const inbox = await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox');
    assert.equal((await srv.ctx.store.listMessages(alice.id, inbox.id)).length, 0);
  } finally {
    await srv.close();
  }
});

test('SmtpSettings.MaxConnections caps each listener (live), with event 1030', async () => {
  const srv = await startTestServer();
  try {
    await srv.setSetting('SmtpSettings.MaxConnections', '2');
    const a = await RawSmtp.connect(srv.port('smtp'));
    const b = await RawSmtp.connect(srv.port('smtp'));
    assert.match(a.greeting, /^220/);
    assert.match(b.greeting, /^220/);
    const c = await RawSmtp.connect(srv.port('smtp'));
    assert.match(c.greeting, /^421 4\.7\.0 Too many connections: 2 of 2 in use \(SmtpSettings\.MaxConnections\)/);
    // the submission listener counts its own connections
    assert.match((await RawSmtp.connect(srv.port('submission'))).greeting, /^220/);
    assert.equal((await cutOffEvents(srv, 'SmtpSettings.MaxConnections'))!.length, 1);
    // raised live: the next connection is admitted
    await srv.setSetting('SmtpSettings.MaxConnections', '3');
    assert.match((await RawSmtp.connect(srv.port('smtp'))).greeting, /^220/);
  } finally {
    await srv.close();
  }
});
