// How IMAP uses the store (store.ts as a contract): batch reads for FETCH, one atomic write for
// MULTIAPPEND, typed errors for concurrent writers. Real sockets, real SQLite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerContext } from '../../src/server/create-context.js';
import { startImapServer } from '../../src/protocols/imap/server.js';
import type { Store } from '../../src/store/store.js';
import type { ServerContext } from '../../src/server/context.js';
import { RawClient, PASSWORD, sampleMessage, startTestServer } from './helpers.js';

/** The store with every call counted by operation name: what a command costs in store calls. */
function countingStore(store: Store): { store: Store; calls: Map<string, number>; total(): number; reset(): void } {
  const calls = new Map<string, number>();
  const wrapped = new Proxy(store, {
    get(target, name, receiver) {
      const v = Reflect.get(target, name, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, calls, total: () => [...calls.values()].reduce((a, b) => a + b, 0), reset: () => calls.clear() };
}

/** An IMAP server whose sessions use the store `wrap` returns (after seeding through `wrap`'s ctx). */
async function serverWith(t: { after: (fn: () => Promise<void> | void) => void }, wrap: (ctx: ServerContext, userId: number) => Promise<Store>): Promise<{ port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'mw-imap-store-'));
  const ctx = await createServerContext(dir, { computer: 'TESTHOST' });
  await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'ImapSettings.LoginType', value: 'PlainTextLogin' });
  await ctx.settings.refresh();
  const user = await ctx.store.createUser({ address: 'alice@example.com', password: PASSWORD });
  const listener = await startImapServer({ ...ctx, store: await wrap(ctx, user.id) }, { host: '127.0.0.1', port: 0, implicitTls: false });
  t.after(async () => {
    await listener.close();
    await ctx.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { port: listener.port };
}

async function ready(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.readResponse();
  assert.match(await c.login(), /OK/);
  return c;
}

test('FETCH 1:50 BODY[] costs a constant number of store calls, not some per message', async (t) => {
  let counting!: ReturnType<typeof countingStore>;
  const srv = await serverWith(t, async (ctx, userId) => {
    const inbox = await ctx.store.getSpecialFolder(userId, '\\Inbox');
    await ctx.store.appendMany(userId, inbox.id, Array.from({ length: 60 }, (_, i) => ({ raw: sampleMessage(`m${i + 1}`, `body ${i + 1}\r\n`) })));
    counting = countingStore(ctx.store);
    return counting.store;
  });
  const c = await ready(srv.port);
  t.after(() => c.close());
  assert.match((await c.command('SELECT INBOX')).tagged, /OK/);

  counting.reset();
  const r = await c.command('FETCH 1:50 BODY[]');
  assert.match(r.tagged, /OK/);
  const answers = r.untagged.filter((l) => /^\* \d+ FETCH /.test(l));
  assert.equal(answers.length, 50);
  // every message whole and in order, \Seen set by the fetch
  answers.forEach((l, i) => {
    assert.ok(l.startsWith(`* ${i + 1} FETCH `), l.slice(0, 40));
    assert.ok(l.includes(`Subject: m${i + 1}\r\n`) && l.includes(`body ${i + 1}\r\n`), l.slice(0, 200));
    assert.match(l, /FLAGS \([^)]*\\Seen/);
  });
  // one read of the 50 messages, one write of \Seen; a few more for the session's own upkeep at most
  assert.equal(counting.calls.get('getMessages'), 1, JSON.stringify([...counting.calls]));
  assert.equal(counting.calls.get('storeFlags'), 1);
  assert.equal(counting.calls.get('readBlob') ?? 0, 0);
  assert.equal(counting.calls.get('readStructure') ?? 0, 0);
  assert.ok(counting.total() <= 6, `store calls: ${JSON.stringify([...counting.calls])}`);

  // ENVELOPE and INTERNALDATE of the whole folder: still one read
  counting.reset();
  const env = await c.command('FETCH 1:* (INTERNALDATE ENVELOPE)');
  assert.match(env.tagged, /OK/);
  assert.equal(env.untagged.filter((l) => /^\* \d+ FETCH \(INTERNALDATE "[^"]+" ENVELOPE \("Mon, 7 Feb 1994/.test(l)).length, 60);
  assert.equal(counting.calls.get('getMessages'), 1, JSON.stringify([...counting.calls]));
  assert.ok(counting.total() <= 4, `store calls: ${JSON.stringify([...counting.calls])}`);
});

test('MULTIAPPEND is one atomic store write: over quota, none of the messages is stored', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const one = sampleMessage('first');
  const two = sampleMessage('second');
  // room for one message, not for both
  await srv.ctx.store.putSetting({ scope: 'user', targetId: srv.user.id, name: 'Default Mailbox Quota Bytes', value: String(one.length + 50) });
  const c = await ready(srv.port);
  t.after(() => c.close());
  const inbox = await srv.ctx.store.getSpecialFolder(srv.user.id, '\\Inbox');
  const seen: string[] = [];
  const unsubscribe = srv.ctx.changes.subscribeUser(srv.user.id, (ch) => seen.push(ch.kind));
  t.after(unsubscribe);
  c.send(`a1 APPEND INBOX {${one.length}+}\r\n`);
  c.send(Buffer.concat([one, Buffer.from(` () {${two.length}+}\r\n`), two, Buffer.from('\r\n')]));
  assert.match((await c.until('a1')).tagged, /^a1 NO \[OVERQUOTA\]/);
  assert.equal((await srv.ctx.store.folderStatus(srv.user.id, inbox.id)).messages, 0);
  assert.equal((await srv.ctx.store.folderStatus(srv.user.id, inbox.id)).uidNext, 1, 'no UID used: nothing went in and came out again');
  assert.deepEqual(seen, [], 'no other session saw a message come and go');

  await srv.ctx.store.deleteSetting({ scope: 'user', targetId: srv.user.id, name: 'Default Mailbox Quota Bytes' });
  c.send(`a2 APPEND INBOX (\\Seen) {${one.length}+}\r\n`);
  c.send(Buffer.concat([one, Buffer.from(` () {${two.length}+}\r\n`), two, Buffer.from('\r\n')]));
  const ok = (await c.until('a2')).tagged;
  const m = /^a2 OK \[APPENDUID (\d+) 1:2\] /.exec(ok);
  assert.ok(m, ok);
  const listed = await srv.ctx.store.listMessages(srv.user.id, inbox.id);
  assert.deepEqual(listed.map((x) => [x.uid, x.flags]), [[1, ['\\Seen']], [2, []]]);
});

test('two connections CREATE one name at once: one OK, the other NO [ALREADYEXISTS], never SERVERBUG', async (t) => {
  // The SQLite store does a CREATE within one event-loop turn, so two sockets race only through a
  // backend that answers asynchronously (a worker thread, PostgreSQL): here the store holds each
  // createFolder until both connections' calls arrived, then runs them together, so that both
  // pass the "no such folder" checks and the second meets the database's UNIQUE constraint.
  let held: Array<() => void> = [];
  const srv = await serverWith(t, async (ctx) => new Proxy(ctx.store, {
    get(target, name, receiver) {
      const v = Reflect.get(target, name, receiver) as unknown;
      if (name !== 'createFolder') return typeof v === 'function' ? (v as () => unknown).bind(target) : v;
      return (...args: Parameters<Store['createFolder']>) => {
        const go = new Promise<void>((resolve) => held.push(resolve));
        if (held.length === 2) for (const release of held.splice(0)) release();
        return go.then(() => target.createFolder(...args));
      };
    },
  }));
  const a = await ready(srv.port);
  const b = await ready(srv.port);
  t.after(() => {
    a.close();
    b.close();
  });
  for (let round = 0; round < 5; round++) {
    const name = `Race ${round}`;
    a.send(`a${round} CREATE "${name}"\r\n`);
    b.send(`b${round} CREATE "${name}"\r\n`);
    const [ra, rb] = await Promise.all([a.until(`a${round}`), b.until(`b${round}`)]);
    const answers = [ra.tagged.split(' ').slice(1, 3).join(' '), rb.tagged.split(' ').slice(1, 3).join(' ')].sort();
    // the OK names the new mailbox's id (RFC 8474 MAILBOXID)
    assert.deepEqual(answers, ['NO [ALREADYEXISTS]', 'OK [MAILBOXID'], `${ra.tagged} / ${rb.tagged}`);
    held = [];
  }
  const list = await a.command('LIST "" "Race*"');
  assert.equal(list.untagged.length, 5, JSON.stringify(list.untagged));
});

test('APPEND into the mailbox the session has selected claims \\Recent in the append\'s own write, not in a second one', async (t) => {
  let counting!: ReturnType<typeof countingStore>;
  const srv = await serverWith(t, async (ctx) => {
    counting = countingStore(ctx.store);
    return counting.store;
  });
  const a = await ready(srv.port);
  const b = await ready(srv.port);
  t.after(() => {
    a.close();
    b.close();
  });
  assert.match((await a.command('SELECT INBOX')).tagged, /OK/);
  assert.match((await b.command('SELECT INBOX')).tagged, /OK/);
  const raw = sampleMessage('appended');
  counting.reset();
  a.send(`ap APPEND INBOX (\\Seen) {${raw.length}+}\r\n`);
  a.send(Buffer.concat([raw, Buffer.from('\r\n')]));
  const r = await a.until('ap');
  assert.match(r.tagged, /^ap OK \[APPENDUID \d+ 1\]/);
  // announced at once, as this session's recent message (RFC 3501 2.3.2: the first session told of it)
  assert.deepEqual(r.untagged, ['* 1 EXISTS', '* 1 RECENT']);
  assert.equal(counting.calls.get('appendAndClaimRecent'), 1, JSON.stringify([...counting.calls]));
  assert.equal(counting.calls.get('appendMany') ?? 0, 0);
  assert.equal(counting.calls.get('claimRecent') ?? 0, 0, 'the sync after the APPEND asks nothing more of the store for \\Recent');
  assert.deepEqual((await a.command('FETCH 1 (FLAGS)')).untagged, ['* 1 FETCH (FLAGS (\\Seen \\Recent))']);
  // the other session is told second: the message is not recent there
  assert.deepEqual((await b.command('NOOP')).untagged, ['* 1 EXISTS', '* 0 RECENT']);
  assert.deepEqual((await b.command('FETCH 1 (FLAGS)')).untagged, ['* 1 FETCH (FLAGS (\\Seen))']);

  // into another mailbox: a plain append; the session that selects it first claims it
  counting.reset();
  assert.match((await a.command('CREATE Other')).tagged, /OK/);
  a.send(`ap2 APPEND Other {${raw.length}+}\r\n`);
  a.send(Buffer.concat([raw, Buffer.from('\r\n')]));
  assert.match((await a.until('ap2')).tagged, /^ap2 OK/);
  assert.equal(counting.calls.get('appendMany'), 1, JSON.stringify([...counting.calls]));
  assert.equal(counting.calls.get('appendAndClaimRecent') ?? 0, 0);
  const sel = await b.command('SELECT Other');
  assert.ok(sel.untagged.includes('* 1 RECENT'), JSON.stringify(sel.untagged));
});
