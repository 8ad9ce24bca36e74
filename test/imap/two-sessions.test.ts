// Two sessions on one mailbox see each other's changes at the moments RFC 3501 allows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, sampleMessage, startTestServer } from './helpers.js';

async function open(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.readResponse();
  await c.login();
  await c.command('SELECT INBOX');
  return c;
}

async function append(c: RawClient, raw: Buffer, flags = ''): Promise<string> {
  c.send(`ap APPEND INBOX ${flags}{${raw.length}+}\r\n`);
  c.send(Buffer.concat([raw, Buffer.from('\r\n')]));
  return (await c.until('ap')).tagged;
}

test('new mail, flag changes and expunges by one session reach the other', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const a = await open(srv.port);
  const b = await open(srv.port);

  assert.match(await append(b, sampleMessage('one')), /OK \[APPENDUID \d+ 1\]/);
  assert.match(await append(b, sampleMessage('two')), /OK/);
  let r = await a.command('NOOP');
  // b announced its appends first, so they are b's \Recent ones (RFC 3501 2.3.2)
  assert.deepEqual(r.untagged, ['* 2 EXISTS', '* 0 RECENT']);

  // mail delivered by SMTP (store.deliver) is announced the same way
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('three'));
  r = await a.command('NOOP');
  assert.deepEqual(r.untagged, ['* 3 EXISTS', '* 1 RECENT']);
  await b.command('NOOP');

  await b.command('STORE 1 +FLAGS.SILENT (\\Seen $Important)');
  r = await a.command('NOOP');
  // a keyword new to the mailbox is announced in FLAGS first (RFC 3501 7.2.6)
  assert.deepEqual(r.untagged, [
    '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)',
    '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important \\*)] Flags permitted',
    '* 1 FETCH (UID 1 FLAGS (\\Seen $Important))',
  ]);

  await b.command('STORE 2 +FLAGS.SILENT (\\Deleted)');
  await b.command('EXPUNGE');
  // no EXPUNGE while answering FETCH, STORE or SEARCH: sequence numbers must not move under the client
  r = await a.command('FETCH 1:* (UID)');
  assert.ok(!r.untagged.some((l) => /EXPUNGE/.test(l)), JSON.stringify(r.untagged));
  // the client has not been told yet, so message 2 still answers (from what the session knew)
  assert.equal(r.untagged.length, 3, JSON.stringify(r.untagged));
  r = await a.command('SEARCH ALL');
  assert.ok(!r.untagged.some((l) => /EXPUNGE/.test(l)));
  assert.ok(r.untagged.includes('* SEARCH 1 3'), JSON.stringify(r.untagged));
  r = await a.command('NOOP');
  assert.deepEqual(r.untagged, ['* 2 EXPUNGE']);
  r = await a.command('FETCH 1:* (UID)');
  assert.deepEqual(r.untagged, ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)']);

  a.close();
  b.close();
});

test('IDLE pushes another session\'s append at once, and DONE ends it', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const a = await open(srv.port);
  const b = await open(srv.port);
  a.send('i1 IDLE\r\n');
  assert.equal(await a.readResponse(), '+ idling');
  // "at once": a sends nothing and nothing polls; the push is the only way the EXISTS can come
  // (its latency is the benchmark's to measure, bench/cluster.ts, not a wall-clock assertion here)
  await append(b, sampleMessage('pushed'));
  assert.equal(await a.readResponse(), '* 1 EXISTS');
  assert.match((await a.readResponse())!, /^\* [01] RECENT$/); // whichever of a and b announced it first claimed it
  await b.command('STORE 1 +FLAGS (\\Flagged)');
  assert.match((await a.readResponse())!, /^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged( \\Recent)?\)\)$/);
  await b.command('STORE 1 +FLAGS (\\Deleted)');
  await b.command('EXPUNGE');
  // IDLE may carry EXPUNGE
  assert.match((await a.readResponse())!, /^\* 1 FETCH/);
  assert.equal(await a.readResponse(), '* 1 EXPUNGE');
  a.send('DONE\r\n');
  assert.equal(await a.readResponse(), 'i1 OK IDLE terminated');
  assert.match((await a.command('NOOP')).tagged, /OK/);
  a.close();
  b.close();
});

test('QRESYNC: VANISHED instead of EXPUNGE, and resynchronisation on SELECT', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const b = await open(srv.port);
  for (const s of ['a', 'b', 'c']) await append(b, sampleMessage(s));
  const a = await RawClient.connect(srv.port);
  await a.readResponse();
  await a.login();
  assert.deepEqual((await a.command('ENABLE QRESYNC')).untagged, ['* ENABLED QRESYNC CONDSTORE']);
  const sel = await a.command('SELECT INBOX');
  const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join('\n'))![1]);
  const uv = Number(/UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))![1]);
  await b.command('NOOP');
  await b.command('STORE 2 +FLAGS.SILENT (\\Deleted)');
  await b.command('EXPUNGE');
  await b.command('STORE 1 +FLAGS.SILENT (\\Seen)');
  const r = await a.command('NOOP');
  assert.ok(r.untagged.includes('* VANISHED 2'), JSON.stringify(r.untagged));
  assert.ok(r.untagged.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/.test(l)));
  await a.command('UNSELECT');
  const again = await a.command(`SELECT INBOX (QRESYNC (${uv} ${hms} 1:3))`);
  assert.ok(again.untagged.includes('* VANISHED (EARLIER) 2'), JSON.stringify(again.untagged));
  assert.ok(again.untagged.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ/.test(l)));
  a.close();
  b.close();
});

test('a view that grows past its first size and loses scattered messages keeps numbers, UIDs, flags and sizes together', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  for (let i = 1; i <= 5; i++) await srv.ctx.store.append(srv.user.id, inbox.id, sampleMessage(`m${i}`));
  const a = await open(srv.port);
  const b = await open(srv.port);
  // 40 more while a is selected: its view grows well past the 5 it was built with
  for (let i = 6; i <= 45; i++) await srv.ctx.store.deliver([srv.user.id], sampleMessage(`m${i}`));
  let r = await a.command('NOOP');
  assert.ok(r.untagged.includes('* 45 EXISTS'), JSON.stringify(r.untagged));
  const sizes = new Map((await a.command('FETCH 1:* (UID RFC822.SIZE)')).untagged.map((l) => {
    const m = /^\* (\d+) FETCH \(UID (\d+) RFC822\.SIZE (\d+)\)$/.exec(l)!;
    assert.equal(m[1], m[2]); // no gaps yet: number = UID
    return [Number(m[2]), Number(m[3])];
  }));
  await b.command('NOOP'); // b learns of the 40 too (they are a's \Recent: a announced them first)
  await b.command('UID STORE 3,7 +FLAGS.SILENT ($Kept)');
  // b expunges UIDs 2, 4, 5, 20 and 45; a is told in ascending order, each number counting the
  // earlier ones as gone (RFC 3501 7.4.1)
  await b.command('UID STORE 2,4:5,20,45 +FLAGS.SILENT (\\Deleted)');
  await b.command('EXPUNGE');
  r = await a.command('NOOP');
  assert.deepEqual(r.untagged.filter((l) => l.endsWith('EXPUNGE')), ['* 2 EXPUNGE', '* 3 EXPUNGE', '* 3 EXPUNGE', '* 17 EXPUNGE', '* 41 EXPUNGE']);
  const left = [1, 3, ...Array.from({ length: 40 }, (_, i) => i + 6)].filter((u) => u !== 20 && u !== 45);
  r = await a.command('FETCH 1:* (UID FLAGS RFC822.SIZE)');
  assert.deepEqual(r.untagged, left.map((uid, i) => `* ${i + 1} FETCH (UID ${uid} FLAGS (${uid === 3 || uid === 7 ? '$Kept ' : ''}\\Recent) RFC822.SIZE ${sizes.get(uid)})`));
  // sequence sets and UID sets resolve against the compacted view
  assert.deepEqual((await a.command('FETCH 2,4:5,* (UID)')).untagged, ['* 2 FETCH (UID 3)', '* 4 FETCH (UID 7)', '* 5 FETCH (UID 8)', `* 40 FETCH (UID 44)`]);
  assert.deepEqual((await a.command('UID FETCH 19:21,44:* (UID)')).untagged, ['* 16 FETCH (UID 19)', '* 17 FETCH (UID 21)', '* 40 FETCH (UID 44)']);
  assert.deepEqual((await a.command('SEARCH KEYWORD $Kept')).untagged, ['* SEARCH 2 4']);
  // and the view grows again after the removal
  await srv.ctx.store.deliver([srv.user.id], sampleMessage('m46'));
  r = await a.command('NOOP');
  assert.ok(r.untagged.includes('* 41 EXISTS'), JSON.stringify(r.untagged));
  assert.deepEqual((await a.command('FETCH 41 (UID)')).untagged, ['* 41 FETCH (UID 46)']);
});
