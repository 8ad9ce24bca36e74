import assert from 'node:assert/strict';
import { msg, settleTyped, type Contract } from '../harness.js';

export const area = 'concurrency';

/** One of two concurrent duplicates succeeds, the other is a StoreError 'exists' (never a driver error). */
function oneWinsOneExists(r: { ok: unknown[]; errors: Array<{ kind: string }> }): void {
  assert.equal(r.ok.length, 1, 'exactly one succeeds');
  assert.deepEqual(r.errors.map((e) => e.kind), ['exists']);
}


export const contracts: Contract[] = [
  {
    name: 'the same user created twice at once: one succeeds, the other is "exists"',
    async run({ store }) {
      oneWinsOneExists(await settleTyped([0, 1].map(() => store.createUser({ address: 'twice@example.com', password: 'pw' }))));
      assert.equal((await store.listUsers()).filter((u) => u.address === 'twice@example.com').length, 1);
    },
  },
  {
    name: 'the same folder created twice at once: one succeeds, the other is "exists"',
    async run({ store, user }) {
      const u = await user();
      oneWinsOneExists(await settleTyped([0, 1].map(() => store.createFolder(u.id, 'Race'))));
    },
  },
  {
    name: 'two folders renamed to one name at once: one succeeds, the other is "exists"',
    async run({ store, user }) {
      const u = await user();
      const a = await store.createFolder(u.id, 'A');
      const b = await store.createFolder(u.id, 'B');
      oneWinsOneExists(await settleTyped([a, b].map((f) => store.renameFolder(u.id, f.id, 'Same'))));
    },
  },
  {
    name: 'one address added to two users at once: one succeeds, the other is "exists"',
    async run({ store, user }) {
      const a = await user();
      const b = await user();
      oneWinsOneExists(await settleTyped([a, b].map((u) => store.addAddress(u.id, 'shared@conformance.test'))));
    },
  },
  {
    name: 'the same mailbox database created twice at once: one succeeds, the other is "exists"',
    async run({ store }) {
      oneWinsOneExists(await settleTyped([0, 1].map(() => store.createDatabase('Raced Database'))));
    },
  },
  {
    name: 'two stores on the same data (server and CLI) create one user at once: one succeeds, the other is "exists"',
    async run({ store, backend, opened }) {
      const second = await backend.open(opened.location);
      try {
        oneWinsOneExists(await settleTyped([store, second.store].map((s) => s.createUser({ address: 'both@example.com', password: 'pw' }))));
      } finally {
        await second.close();
      }
      await store.listUsers(); // a write of the first store's proxy re-checks the invariants after this
      await store.putSetting({ scope: 'server', targetId: 0, name: 'Conformance.Marker', value: '1' });
    },
  },
  {
    name: 'concurrent flag changes on the same messages: every change gets its own MODSEQ, the result is one of the orders',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      for (let i = 0; i < 5; i++) await store.append(u.id, inbox.id, msg(`cf${i}`));
      const ops = [
        store.storeFlags(u.id, inbox.id, [1, 2, 3, 4, 5], 'add', ['\\Seen']),
        store.storeFlags(u.id, inbox.id, [1, 2, 3, 4, 5], 'add', ['\\Flagged']),
        store.storeFlags(u.id, inbox.id, [2, 4], 'remove', ['\\Seen']),
      ];
      const results = await Promise.all(ops);
      const modseqs = results.flatMap((r) => r.changed.map((c) => c.modseq));
      assert.equal(new Set(modseqs).size, modseqs.length, 'no MODSEQ given twice');
      const list = await store.listMessages(u.id, inbox.id);
      assert.ok(list.every((m) => m.flags.includes('\\Flagged')));
    },
  },
  {
    name: 'one message moved to two folders at once: it ends up in exactly one of them, once',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const a = await store.createFolder(u.id, 'A');
      const b = await store.createFolder(u.id, 'B');
      const m = await store.append(u.id, inbox.id, msg('contested'));
      const r = await settleTyped([a, b].map((f) => store.moveMessages(u.id, inbox.id, [m.uid], f.id)));
      assert.equal(r.ok.reduce((n, x) => n + x.pairs.length, 0), 1, 'moved once');
      const counts = await Promise.all([inbox, a, b].map(async (f) => (await store.folderStatus(u.id, f.id)).messages));
      assert.deepEqual(counts.sort(), [0, 0, 1]);
    },
  },
  {
    name: 'appends, flag changes and expunges interleaved on one folder keep every invariant',
    async run({ store, user }) {
      const u = await user();
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      for (let i = 0; i < 10; i++) await store.append(u.id, inbox.id, msg(`mix${i}`));
      await store.storeFlags(u.id, inbox.id, [1, 3, 5, 7], 'add', ['\\Deleted']);
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => store.append(u.id, inbox.id, msg(`mix more ${i}`))),
        store.expunge(u.id, inbox.id),
        store.storeFlags(u.id, inbox.id, [2, 4, 6, 8, 10], 'add', ['\\Seen']),
        store.copyMessages(u.id, inbox.id, [2, 4], inbox.id),
      ]);
      assert.equal((await store.folderStatus(u.id, inbox.id)).messages, 10 - 4 + 10 + 2);
    },
  },
];
