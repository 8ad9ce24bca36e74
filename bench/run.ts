/**
 * Runs the benchmarks (all, or those named: `node dist/bench/run.js pop3 store`), prints a
 * table and rewrites bench/RESULTS.md. Results of benchmarks not run this time are kept from
 * bench/results.json, so running one benchmark updates only its section; the hand-written sections
 * after them (titles saying "hand-written") are kept.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchGovernor } from './governor.js';
import { benchStore } from './store.js';
import { benchPop3 } from './pop3.js';
import { benchImap } from './imap.js';
import { benchImapSort } from './imap-sort.js';
import { benchImapHeaders } from './imap-headers.js';
import { benchSmtp } from './smtp.js';
import { benchSmtpMix } from './smtp-mix.js';
import { benchOutbound } from './outbound.js';
import { benchOwa } from './owa.js';
import { benchLogon } from './logon.js';
import { benchEws } from './ews.js';
import { benchCluster } from './cluster.js';
import { benchPostgres } from './postgres.js';
import { benchActiveSync } from './activesync.js';
import { dovecotVersion } from './lib/dovecot.js';
import { cpuModel } from './lib/proc.js';
import { fmtSummary, log, ratio, type BenchOutcome } from './lib/stats.js';
import { LOADGEN_NICE } from './lib/loadgen-priority.js';

const BENCHES: Record<string, () => Promise<BenchOutcome>> = {
  governor: benchGovernor,
  store: benchStore,
  pop3: benchPop3,
  imap: benchImap,
  'imap-sort': benchImapSort,
  'imap-headers': benchImapHeaders,
  smtp: benchSmtp,
  'smtp-mix': benchSmtpMix,
  outbound: benchOutbound,
  owa: benchOwa,
  logon: benchLogon,
  ews: benchEws,
  cluster: benchCluster,
  postgres: benchPostgres,
  activesync: benchActiveSync,
};

/** bench/ in the source tree (dist/bench/run.js → ../../bench). */
const BENCH_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bench');

interface Stored {
  machine: Machine;
  outcomes: Record<string, BenchOutcome & { date: string; machine: Machine }>;
}

interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  dovecot: string;
}

function machine(): Machine {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    dovecot: dovecotVersion() ?? 'not installed',
  };
}

function ratioText(r: BenchOutcome['results'][number]): string {
  const q = ratio(r);
  if (q === undefined) return '–';
  const good = r.better === 'higher' ? q >= 1 : q <= 1;
  return `${q.toFixed(2)}×${good ? '' : ' (worse)'}`;
}

function printTable(outcomes: BenchOutcome[]): void {
  const rows = [['benchmark', 'metric', 'unit', 'Mailwarden median (min–max)', 'Dovecot median (min–max)', 'MW/Dovecot', 'target']];
  for (const o of outcomes) {
    for (const r of o.results) rows.push([r.bench, r.metric, r.unit, fmtSummary(r.mw), fmtSummary(r.dovecot), ratioText(r), r.target ?? '']);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c])).join(' | ');
  process.stdout.write('\n' + line(rows[0]) + '\n' + widths.map((w) => '-'.repeat(w)).join('-|-') + '\n');
  for (const row of rows.slice(1)) process.stdout.write(line(row) + '\n');
  for (const o of outcomes) for (const s of o.skipped) process.stdout.write(`skipped (${o.name}): ${s}\n`);
  process.stdout.write('\n');
}

function markdown(stored: Stored): string {
  const m = stored.machine;
  const out: string[] = [
    '# Mailwarden benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts); see bench/README.md for what each benchmark measures and how Dovecot is configured.',
    'Each value is the **median of N runs** with min–max in brackets. Ratio = Mailwarden / Dovecot (for ms, lower is better; for rates, higher is better).',
    '',
    '## Machine (latest run)',
    '',
    `- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB} GiB; Linux ${m.kernel}`,
    `- Node ${m.node}; Dovecot ${m.dovecot}`,
    '- Clients, Mailwarden (a separate Node process) and Dovecot all share this machine and talk over loopback.',
    '',
  ];
  for (const name of Object.keys(BENCHES)) {
    const o = stored.outcomes[name];
    if (!o) continue;
    out.push(`## ${name}`, '', `Run ${o.date} (Node ${o.machine.node}, Dovecot ${o.machine.dovecot}, ${o.machine.cores} × ${o.machine.cpu}).`, '');
    if (o.results.length) {
      out.push('| metric | unit | Mailwarden median (min–max, n) | Dovecot median (min–max, n) | MW/Dovecot | target |', '| --- | --- | --- | --- | --- | --- |');
      for (const r of o.results) {
        out.push(`| ${r.metric}${r.note ? ` — ${r.note}` : ''} | ${r.unit} | ${fmtSummary(r.mw)} | ${fmtSummary(r.dovecot)} | ${ratioText(r)} | ${r.target ?? ''} |`);
      }
      out.push('');
    }
    for (const s of o.skipped) out.push(`- Skipped: ${s}`);
    for (const n of o.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}

/** Sections below the generated ones whose title says "hand-written" (A/B runs, session notes) are kept as they are. */
const HAND_WRITTEN = /^## .*hand-written/m;

function writeResults(stored: Stored): void {
  const file = join(BENCH_DIR, 'RESULTS.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const at = previous.search(HAND_WRITTEN);
  writeFileSync(file, markdown(stored) + (at >= 0 ? '\n' + previous.slice(at) : ''));
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  for (const w of wanted) if (!BENCHES[w]) throw new Error(`unknown benchmark "${w}" (choose from ${Object.keys(BENCHES).join(', ')})`);
  const names = wanted.length ? wanted : Object.keys(BENCHES);
  const jsonFile = join(BENCH_DIR, 'results.json');
  const stored: Stored = existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as Stored) : { machine: machine(), outcomes: {} };
  stored.machine = machine();
  const done: BenchOutcome[] = [];
  let failed = false;
  for (const name of names) {
    log(`=== ${name}`);
    const t0 = Date.now();
    const loadBefore = loadavg()[0];
    try {
      const o = await BENCHES[name]();
      o.notes.push(`Machine load (1-min load average) ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after; other processes (e.g. test suites) running at the same time widen the min–max range.`);
      done.push(o);
      stored.outcomes[name] = { ...o, date: new Date().toISOString(), machine: stored.machine };
      log(`=== ${name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } catch (err) {
      failed = true;
      log(`=== ${name} FAILED: ${(err as Error).stack ?? err}`);
      done.push({ name, results: [], skipped: [`failed: ${(err as Error).message.split('\n')[0]}`], notes: [] });
    }
    // write after every benchmark so that a long run keeps what it measured; a run with the load
    // generator niced is a second figure, never the published one (bench/lib/loadgen-priority.ts)
    if (LOADGEN_NICE) continue;
    writeFileSync(jsonFile, JSON.stringify(stored, null, 2) + '\n');
    writeResults(stored);
  }
  printTable(done);
  process.stdout.write(LOADGEN_NICE ? `load generator niced +${LOADGEN_NICE}: bench/RESULTS.md and bench/results.json not written\n` : `wrote ${join(BENCH_DIR, 'RESULTS.md')}\n`);
  if (failed) process.exitCode = 1;
}

await main();
