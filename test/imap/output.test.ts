// Output batching (one socket write per ~64 KB chunk) and the array-based mailbox view:
// big FETCH answers stay complete and in order, plain and under COMPRESS=DEFLATE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { GIVE_UP_MS } from '../helpers/server.js';
import { RawClient, PASSWORD, sampleMessage, startTestServer, type TestServer } from './helpers.js';

const COUNT = 1500;
const flagsOf = (i: number): string[] => (i % 3 === 0 ? ['\\Seen'] : i % 3 === 1 ? ['\\Flagged', '$Label'] : []);

async function seed(srv: TestServer): Promise<void> {
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  for (let i = 0; i < COUNT; i++) await srv.ctx.store.append(srv.user.id, inbox.id, sampleMessage(`m${i}`, `body ${i} ${'x'.repeat(i % 200)}\r\n`), { flags: flagsOf(i) });
  // claimed here, so that no session shows \Recent: these tests are about the output, recent.test.ts about \Recent
  await srv.ctx.store.claimRecent(srv.user.id, inbox.id);
}

function checkFlagLines(lines: string[]): void {
  assert.equal(lines.length, COUNT);
  lines.forEach((l, i) => assert.equal(l, `* ${i + 1} FETCH (UID ${i + 1} FLAGS (${flagsOf(i).join(' ')}))`));
}

test('big FETCH answers: complete, in order, flags from the view; details for INTERNALDATE; changes pushed', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await seed(srv);
  const c = await RawClient.connect(srv.port);
  t.after(() => c.close());
  await c.readResponse();
  assert.match(await c.login(), /OK/);
  const sel = await c.command('SELECT INBOX');
  assert.ok(sel.untagged.includes(`* ${COUNT} EXISTS`));
  assert.ok(sel.untagged.includes('* OK [UNSEEN 2] First unseen'));
  assert.match(sel.untagged[0]!, /^\* FLAGS \(.*\$Label\)$/);
  const r = await c.command('UID FETCH 1:* (FLAGS)');
  assert.match(r.tagged, /OK/);
  checkFlagLines(r.untagged);

  // beyond the bulk threshold: one folder listing for INTERNALDATE / RFC822.SIZE
  const d = await c.command('FETCH 1:* (INTERNALDATE RFC822.SIZE FLAGS)');
  assert.equal(d.untagged.length, COUNT);
  assert.match(d.untagged[COUNT - 1]!, /^\* 1500 FETCH \(INTERNALDATE "[^"]+" RFC822\.SIZE \d+ FLAGS \(\)\)$/);
  assert.match(d.untagged[1]!, /^\* 2 FETCH \(INTERNALDATE "[^"]+" RFC822\.SIZE \d+ FLAGS \(\\Flagged \$Label\)\)$/);
  const sizes = await c.command('FETCH 1:* (RFC822.SIZE)');
  assert.deepEqual(sizes.untagged.map((l) => /RFC822\.SIZE (\d+)/.exec(l)![1]), d.untagged.map((l) => /RFC822\.SIZE (\d+)/.exec(l)![1]));

  // BODY[] sets \Seen; the answer and a later FLAGS fetch agree
  const b = await c.command('FETCH 2 (BODY[])');
  assert.equal(b.untagged.length, 1);
  assert.ok(b.untagged[0]!.startsWith('* 2 FETCH (BODY[] {') && b.untagged[0]!.includes('Subject: m1\r\n'));
  assert.ok(b.untagged[0]!.endsWith(' FLAGS (\\Flagged $Label \\Seen))'), b.untagged[0]!.slice(-80));
  assert.deepEqual((await c.command('FETCH 2 (FLAGS)')).untagged, ['* 2 FETCH (FLAGS (\\Flagged $Label \\Seen))']);

  // another session's change reaches this one (NOOP), new keyword announced first
  const o = await RawClient.connect(srv.port);
  t.after(() => o.close());
  await o.readResponse();
  await o.login();
  await o.command('SELECT INBOX');
  assert.match((await o.command('STORE 3 +FLAGS ($New)')).tagged, /OK/);
  assert.match((await o.command('STORE 1 +FLAGS (\\Deleted)')).tagged, /OK/);
  assert.match((await o.command('UID EXPUNGE 1')).tagged, /OK/);
  const n = await c.command('NOOP');
  assert.ok(n.untagged.some((l) => /^\* FLAGS \(.*\$New\)$/.test(l)), JSON.stringify(n.untagged));
  assert.deepEqual(n.untagged.filter((l) => !l.includes('FLAGS (\\')), ['* 1 EXPUNGE', '* 2 FETCH (UID 3 FLAGS ($New))']);
  const s = await c.command('SEARCH KEYWORD $New');
  assert.deepEqual(s.untagged, ['* SEARCH 2']);
});

test('big FETCH under COMPRESS=DEFLATE arrives whole and in order', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  await seed(srv);
  const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
  t.after(() => sock.destroy());
  let text = '';
  let waiter: (() => void) | null = null;
  const onText = (s: string) => {
    text += s;
    waiter?.();
  };
  sock.on('data', (d: Buffer) => onText(d.toString('latin1')));
  const until = async (re: RegExp): Promise<string> => {
    const end = Date.now() + GIVE_UP_MS; // a bound for a broken test only
    while (!re.test(text)) {
      if (Date.now() > end) throw new Error(`timeout; got ${text.slice(-300)}`);
      await new Promise<void>((r) => {
        waiter = r;
        setTimeout(r, 100);
      });
    }
    const all = text;
    text = '';
    return all;
  };
  await until(/^\* OK .*\r\n/);
  sock.write(`a LOGIN alice@example.com "${PASSWORD}"\r\n`);
  await until(/^a OK/m);
  sock.write('b COMPRESS DEFLATE\r\n');
  await until(/^b OK/m);
  sock.removeAllListeners('data');
  const inflate = zlib.createInflateRaw();
  const deflate = zlib.createDeflateRaw();
  sock.on('data', (d: Buffer) => inflate.write(d));
  inflate.on('data', (d: Buffer) => onText(d.toString('latin1')));
  deflate.on('data', (d: Buffer) => sock.write(d));
  const send = (s: string) => {
    deflate.write(s);
    deflate.flush(zlib.constants.Z_SYNC_FLUSH);
  };
  send('c SELECT INBOX\r\n');
  assert.match(await until(/^c OK/m), new RegExp(`\\* ${COUNT} EXISTS`));
  send('d UID FETCH 1:* (FLAGS)\r\n');
  const out = await until(/^d OK/m);
  const lines = out.split('\r\n').filter((l) => l.startsWith('* '));
  checkFlagLines(lines);
  send('e LOGOUT\r\n');
  await until(/^e OK/m);
});
