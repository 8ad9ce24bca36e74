import assert from 'node:assert/strict';
import { rejectsWith, type Contract, type Fixture } from '../harness.js';
import { factsOf } from '../../../../src/mime/sort-facts.js';

export const area = 'sort facts';

/** A message with every header SORT and THREAD read, encoded words and a reply prefix included. */
const threaded = (n: number, refs: string): Buffer =>
  Buffer.from(
    `From: "=?UTF-8?Q?J=C3=BCrgen?=" <juergen${n}@example.org>\r\nTo: Team <team@example.org>\r\nCc: boss@example.org\r\n` +
      `Subject: Re: [list] =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= ${n % 2}\r\nDate: Tue, 1 Dec 2026 10:0${n}:00 +0100\r\n` +
      `Message-ID: <m${n}@example.org>\r\n${refs}\r\n\r\nbody ${n}\r\n`,
  );

const MESSAGES = [
  threaded(1, 'X-None: 1'),
  threaded(2, 'In-Reply-To: <m1@example.org>'),
  threaded(3, 'References: <m1@example.org> <m2@example.org>'),
  Buffer.from('Subject: no date, no ids\r\n\r\nx\r\n'),
];

async function setup(f: Fixture) {
  const u = await f.user();
  const inbox = await f.store.getSpecialFolder(u.id, '\\Inbox');
  const other = await f.store.createFolder(u.id, 'Other');
  return { u, inbox, other };
}

export const contracts: Contract[] = [
  {
    name: 'getSortFacts gives what the header says (as factsOf reads it), for append, appendMany and deliver, ascending, held UIDs only',
    async run(f) {
      const { u, inbox } = await setup(f);
      const internal = new Date('2020-05-06T07:08:09Z');
      await f.store.append(u.id, inbox.id, MESSAGES[0]!, { internalDate: internal });
      await f.store.appendMany(u.id, inbox.id, [{ raw: MESSAGES[1]! }, { raw: MESSAGES[2]! }]);
      await f.store.deliver([u.id], MESSAGES[3]!);
      const got = await f.store.getSortFacts(u.id, inbox.id, [4, 99, 2, 1, 3]);
      assert.deepEqual(got.map((m) => m.uid), [1, 2, 3, 4]);
      got.forEach((m, i) => assert.deepEqual(m.facts, factsOf(MESSAGES[i]!), `facts of UID ${m.uid}`));
      assert.equal(got[0]!.internalDate, internal.getTime());
      // spot checks of what SORT and THREAD rely on, beyond agreeing with factsOf
      assert.equal(got[0]!.facts.subject, 'GRÜSSE 1'.normalize('NFKD'), 'base subject: prefix and list tag off, decoded, compare form');
      assert.equal(got[0]!.facts.displayFrom, 'JÜRGEN'.normalize('NFKD'));
      assert.equal(got[0]!.facts.replyOrForward, true);
      assert.equal(got[2]!.facts.messageId, 'm3@example.org');
      assert.deepEqual(got[2]!.facts.references, ['m1@example.org', 'm2@example.org']);
      assert.deepEqual(got[1]!.facts.references, ['m1@example.org']);
      assert.ok(Number.isNaN(got[3]!.facts.sent), 'no Date: NaN (SORT then uses the internal date)');
      assert.equal(got[3]!.facts.messageId, null);
      assert.deepEqual(await f.store.getSortFacts(u.id, inbox.id, []), []);
    },
  },
  {
    name: 'getSortFacts: a copy or a move has its source\'s facts under its new UID; an expunged UID is left out',
    async run(f) {
      const { u, inbox, other } = await setup(f);
      for (const m of MESSAGES) await f.store.append(u.id, inbox.id, m);
      const copied = await f.store.copyMessages(u.id, inbox.id, [1], other.id);
      const moved = await f.store.moveMessages(u.id, inbox.id, [3], other.id);
      await f.store.removeMessages(u.id, inbox.id, [2]);
      const there = await f.store.getSortFacts(u.id, other.id, [copied.pairs[0]![1], moved.pairs[0]![1]]);
      assert.deepEqual(there.map((m) => m.facts), [factsOf(MESSAGES[0]!), factsOf(MESSAGES[2]!)]);
      const here = await f.store.getSortFacts(u.id, inbox.id, [1, 2, 3, 4]);
      assert.deepEqual(here.map((m) => m.uid), [1, 4]);
    },
  },
  {
    name: 'getSortFacts of another user\'s folder or of no folder is not-found',
    async run(f) {
      const { inbox } = await setup(f);
      const stranger = await f.user();
      await rejectsWith(f.store.getSortFacts(stranger.id, inbox.id, [1]), 'not-found');
      await rejectsWith(f.store.getSortFacts(stranger.id, 987654, [1]), 'not-found');
    },
  },
];
