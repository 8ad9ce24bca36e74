// Issue 14 item 1: a COMPRESS=DEFLATE bomb must not grow the server's memory without bound.
// Bytes already received used to keep inflating (~1000:1) into the command queue although the
// socket was paused; now the inflater is read only while the connection's input budget has room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { readUntil } from '../helpers/read-until.js';
import { startChildServer } from '../helpers/child-server.js';

const MB = 1024 * 1024;


/** A normal client's whole visit: logon, SELECT, FETCH, logout. */
async function normalVisit(port: number): Promise<void> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: 'bob@test.example', pass: 'bob-pw' }, logger: false });
  await client.connect();
  const box = await client.mailboxOpen('INBOX');
  assert.ok(box.exists >= 1);
  const msg = await client.fetchOne('1', { envelope: true });
  assert.ok(msg && msg.envelope);
  await client.logout();
}

test('a COMPRESS=DEFLATE bomb that is never read stays within the input budget while other clients are served', { timeout: 300_000 }, async (t) => {
  const body = Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(2000));
  const server = await startChildServer(async (ctx) => {
    for (const [address, password] of [['alice@test.example', 'alice-pw'], ['bob@test.example', 'bob-pw']] as const) {
      const u = await ctx.store.createUser({ address, password });
      await ctx.store.deliver([u.id], body);
    }
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'ImapSettings.LoginType', value: 'PlainTextLogin' });
  });
  try {
    await normalVisit(server.port('imap'));
    const baseline = server.rss();

    const bomb = net.connect(server.port('imap'), '127.0.0.1');
    await readUntil(bomb, /^\* OK/m);
    bomb.write('a LOGIN alice@test.example alice-pw\r\nb SELECT INBOX\r\nc COMPRESS DEFLATE\r\n');
    await readUntil(bomb, /^c OK/m);
    // ~100 MB of pipelined FETCH commands in ~100 KB of deflate data; never read again
    bomb.pause();
    const deflate = zlib.createDeflateRaw({ level: 9 });
    const chunk = Buffer.from('f FETCH 1 BODY.PEEK[]\r\n'.repeat(100_000));
    for (let i = 0; i < 45; i++) deflate.write(chunk);
    deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    deflate.on('data', (d: Buffer) => bomb.write(d));
    bomb.on('error', () => undefined);

    let peak = baseline;
    for (let round = 0; round < 15; round++) {
      await normalVisit(server.port('imap'));
      peak = Math.max(peak, server.rss());
      if (peak - baseline >= 200 * MB) break; // failed already; do not let it eat the machine
    }
    t.diagnostic(`server RSS ${Math.round(baseline / MB)} MB before the bomb, at most ${Math.round(peak / MB)} MB during it`);
    assert.ok(peak - baseline < 200 * MB, `server RSS grew from ${Math.round(baseline / MB)} MB to ${Math.round(peak / MB)} MB`);
    bomb.destroy();
    deflate.destroy();
  } finally {
    await server.stop();
  }
});
