/**
 * Issue 13: server-side SORT and THREAD, Mailwarden vs Dovecot in one run.
 *  - answers: the known-answer corpus of test/imap/sort-corpus.ts appended to both servers, every
 *    SORT and THREAD of it asked of both; a difference fails the benchmark;
 *  - `UID SORT (REVERSE DATE) UTF-8 ALL` and `UID THREAD REFERENCES UTF-8 ALL` on the 100,000-message
 *    Inbox the IMAP benchmark seeds (same messages, same seeding): the first (cold) command of a fresh
 *    server reported apart, then ROUNDS warm rounds (new connection, SELECT, SORT, THREAD), medians;
 *    both servers must give the same answer;
 *  - Mailwarden's event-loop delay (max = the longest stretch the loop was blocked) over the cold
 *    commands and over each warm round.
 */
import { ImapClient } from './lib/raw.js';
import { makeMessages } from './lib/messages.js';
import { dovecotMissing, startDovecot, writeMaildir, type Dovecot } from './lib/dovecot.js';
import { mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { buildBigFolder } from './store.js';
import { formatDelay, RoundDelays, type EventLoopDelay } from './lib/event-loop-delay.js';
import { log, nowMs, runs, summarise, type BenchOutcome, type BenchResult } from './lib/stats.js';
import { SORT_ANSWERS, SORT_CORPUS, SUBJECT_ANSWERS, SUBJECT_CORPUS, THREAD_ANSWERS, THREAD_CORPUS, type CorpusMessage } from '../test/imap/sort-corpus.js';
import { internalDate } from '../src/protocols/imap/wire.js';
import { createHash } from 'node:crypto';

const BIG = Number(process.env.BENCH_IMAP_BIG ?? 100_000);
const PASSWORD = 'bench-pw';
const USER = 'list@bench.test';
const SORT_CMD = 'UID SORT (REVERSE DATE) UTF-8 ALL';
const THREAD_CMD = 'UID THREAD REFERENCES UTF-8 ALL';

interface Timed {
  ms: number;
  /** SHA-256 of the untagged answer, to compare the servers' answers. */
  digest: string;
}

async function timed(c: ImapClient, command: string): Promise<Timed> {
  const lines: string[] = [];
  const t0 = nowMs();
  await c.cmd(command, undefined, true, lines);
  const ms = nowMs() - t0;
  const answer = lines.filter((l) => /^\* (SORT|THREAD)\b/.test(l)).join('\n');
  if (!answer) throw new Error(`${command}: no answer`);
  return { ms, digest: createHash('sha256').update(answer).digest('hex').slice(0, 16) };
}

/** One session: login and SELECT (not timed), then the SORT and the THREAD (each timed). */
async function round(port: number): Promise<{ sort: Timed; thread: Timed }> {
  const c = await ImapClient.connect(port);
  await c.login(USER, PASSWORD);
  await c.cmd('SELECT INBOX');
  const sort = await timed(c, SORT_CMD);
  const thread = await timed(c, THREAD_CMD);
  await c.logout();
  return { sort, thread };
}

async function append(c: ImapClient, box: string, corpus: CorpusMessage[]): Promise<void> {
  await c.cmd(`CREATE ${box}`);
  for (const m of corpus) await c.cmd(`APPEND ${box} () ${internalDate(m.internal)}`, m.raw);
}

/** The corpus answers of one server, or the first wrong one. */
async function checkAnswers(port: number, who: string): Promise<string[]> {
  const wrong: string[] = [];
  const c = await ImapClient.connect(port);
  await c.login(USER, PASSWORD);
  await append(c, 'sortcorpus', SORT_CORPUS);
  await append(c, 'threadcorpus', THREAD_CORPUS);
  await append(c, 'subjectcorpus', SUBJECT_CORPUS);
  const ask = async (command: string, want: string) => {
    const lines: string[] = [];
    await c.cmd(command, undefined, true, lines);
    if (lines.at(-1) !== want) wrong.push(`${who}: ${command} answered ${lines.at(-1)}, expected ${want}`);
  };
  await c.cmd('EXAMINE sortcorpus');
  for (const [criteria, want] of SORT_ANSWERS) await ask(`SORT ${criteria} UTF-8 ALL`, `* SORT ${want}`);
  await c.cmd('EXAMINE threadcorpus');
  for (const [algorithm, want] of THREAD_ANSWERS) await ask(`THREAD ${algorithm} UTF-8 ALL`, `* THREAD ${want}`);
  await c.cmd('EXAMINE subjectcorpus');
  for (const [command, want] of SUBJECT_ANSWERS) await ask(`${command} UTF-8 ALL`, `* ${command.split(' ')[0]} ${want}`);
  await c.logout();
  return wrong;
}

export async function benchImapSort(): Promise<BenchOutcome> {
  const skipped: string[] = [];
  const notes: string[] = [];
  let mw: MailwardenProcess | null = null;
  let dc: Dovecot | null = null;
  const tmp = mwTempDir('mw-bench-imap-sort-');
  try {
    log(`imap-sort: seeding Mailwarden (${BIG.toLocaleString('en-US')}-message Inbox, as the imap benchmark) …`);
    const built = await buildBigFolder(tmp.dataDir, BIG, PASSWORD, { appendMany: true });
    notes.push(`Mailwarden ${BIG.toLocaleString('en-US')}-message folder built with Store.appendMany (1,000 a transaction) in ${built.seconds.toFixed(0)} s.`);
    const store = await openSeedStore(tmp.dataDir);
    await putBenchSettings(store); // plain-text LOGIN on loopback, as in the imap benchmark
    await store.close();
    mw = await startMailwarden(tmp.dataDir);
    const missing = dovecotMissing();
    if (missing) skipped.push(`Dovecot: ${missing}`);
    else {
      log('imap-sort: seeding Dovecot …');
      dc = await startDovecot({ users: [{ name: USER, password: PASSWORD }] });
      writeMaildir(dc.maildir(USER), makeMessages(BIG, 1024, 1024, 42, 'big'));
      dc.fixOwnership();
    }
    const sides: Array<{ key: 'mw' | 'dovecot'; name: string; port: number }> = [{ key: 'mw', name: 'Mailwarden', port: mw.port('imap')! }];
    if (dc) sides.push({ key: 'dovecot', name: 'Dovecot', port: dc.ports.imap });

    const delays = new RoundDelays(mw.eventLoopDelay);
    const sortMs: Record<string, number[]> = { mw: [], dovecot: [] };
    const threadMs: Record<string, number[]> = { mw: [], dovecot: [] };
    const cold: Record<string, { sort: number; thread: number }> = {};
    const digests: Record<string, { sort: string; thread: string }> = {};
    let coldDelay: EventLoopDelay | null = null;
    try {
      // cold: the first SORT and THREAD a fresh server sees of the folder (Dovecot builds its index and cache,
      // Mailwarden reads every message's header once); SELECT before them is not timed
      for (const s of sides) {
        const { result, delay } = await delays.round(s.key === 'mw', () => round(s.port));
        cold[s.key] = { sort: result.sort.ms, thread: result.thread.ms };
        digests[s.key] = { sort: result.sort.digest, thread: result.thread.digest };
        if (delay) coldDelay = delay;
        log(`imap-sort ${s.key} cold: SORT ${result.sort.ms.toFixed(0)} ms, THREAD ${result.thread.ms.toFixed(0)} ms${delay ? ` (${formatDelay(delay)})` : ''}`);
      }
      const n = runs(5);
      for (let r = 0; r < n; r++) {
        for (const s of sides) {
          const { result, delay } = await delays.round(s.key === 'mw', () => round(s.port));
          sortMs[s.key].push(result.sort.ms);
          threadMs[s.key].push(result.thread.ms);
          if (result.sort.digest !== digests[s.key].sort || result.thread.digest !== digests[s.key].thread) throw new Error(`${s.name}: the answer changed between rounds`);
          log(`imap-sort ${s.key} round ${r + 1}/${n}: SORT ${result.sort.ms.toFixed(0)} ms, THREAD ${result.thread.ms.toFixed(0)} ms${delay ? ` (${formatDelay(delay)})` : ''}`);
        }
      }
    } finally {
      delays.stop();
    }
    if (dc) {
      for (const k of ['sort', 'thread'] as const) {
        if (digests.mw[k] !== digests.dovecot[k]) throw new Error(`${k.toUpperCase()} of the ${BIG}-message folder: Mailwarden and Dovecot answer differently`);
      }
      notes.push(`Both servers gave the same SORT and THREAD answers for the ${BIG.toLocaleString('en-US')}-message folder.`);
    }
    // the corpus with known answers, after the timings (its folders are not the timed one)
    const wrong: string[] = [];
    for (const s of sides) wrong.push(...(await checkAnswers(s.port, s.name)));
    if (wrong.length) throw new Error(`wrong answers:\n${wrong.join('\n')}`);
    notes.push(`Known-answer corpus (test/imap/sort-corpus.ts: ${SORT_ANSWERS.length + THREAD_ANSWERS.length + SUBJECT_ANSWERS.length} SORT and THREAD commands): both servers answer all of it the same.`);
    for (const s of sides) {
      notes.push(`${s.name} cold (first SORT, then first THREAD, of a freshly started server): ${cold[s.key].sort.toFixed(0)} ms, ${cold[s.key].thread.toFixed(0)} ms (not in the medians).`);
    }
    if (coldDelay) notes.push(`Mailwarden over the cold SORT + THREAD: ${formatDelay(coldDelay)}.`);
    const one = (v: number | undefined) => (v === undefined ? undefined : summarise([v]));
    const big = BIG.toLocaleString('en-US');
    const results: BenchResult[] = [
      { bench: 'imap-sort', metric: `${SORT_CMD}, ${big} messages (warm)`, unit: 'ms', better: 'lower', mw: summarise(sortMs.mw), dovecot: dc ? summarise(sortMs.dovecot) : undefined, target: '≤ Dovecot' },
      { bench: 'imap-sort', metric: `${THREAD_CMD}, ${big} messages (warm)`, unit: 'ms', better: 'lower', mw: summarise(threadMs.mw), dovecot: dc ? summarise(threadMs.dovecot) : undefined, target: '≤ Dovecot' },
      { bench: 'imap-sort', metric: `${SORT_CMD}, ${big} messages (cold: first of a fresh server, one run)`, unit: 'ms', better: 'lower', mw: one(cold.mw?.sort), dovecot: one(cold.dovecot?.sort) },
      { bench: 'imap-sort', metric: `${THREAD_CMD}, ${big} messages (first, after the first SORT, one run)`, unit: 'ms', better: 'lower', mw: one(cold.mw?.thread), dovecot: one(cold.dovecot?.thread) },
      { bench: 'imap-sort', metric: 'Mailwarden event-loop delay max per warm round (SORT + THREAD)', unit: 'ms', better: 'lower', mw: summarise(delays.server.slice(1).map((d) => d.max)) },
      { bench: 'imap-sort', metric: 'same, less the main thread\'s wait for a core (schedstat), max per warm round', unit: 'ms', better: 'lower', mw: delays.server.slice(1).every((d) => d.own) ? summarise(delays.server.slice(1).map((d) => d.own!.max)) : undefined },
    ];
    return { name: 'imap-sort', results, skipped, notes };
  } finally {
    await mw?.stop();
    await dc?.stop();
    tmp.cleanup();
  }
}
