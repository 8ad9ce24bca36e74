// One fuzz target for a fixed budget: `node dist/test/fuzz/run.js TARGET SECONDS` (scripts/fuzz.mjs
// runs every target, one process each). fast-check runs batches of generated inputs with fresh
// seeds until the budget is spent; each failure is shrunk and saved as test/fuzz/crashes/*.json,
// which crash.test.ts replays in `npm test`. Prints executions and the V8 block coverage of the
// target's source folders.
import fc from 'fast-check';
import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzTarget } from './targets.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CRASH_DIR = join(ROOT, 'test', 'fuzz', 'crashes');

/** Which compiled source folders each target's coverage is reported for. */
const COVERED: Record<string, string[]> = {
  'imap-command': ['/dist/src/protocols/imap/parser/'],
  'mime-structure': ['/dist/src/mime/'],
  'pop3-commands': ['/dist/src/protocols/pop3/'],
  'smtp-commands': ['/dist/src/protocols/smtp/', '/dist/src/transport/'],
  'ews-soap': ['/dist/src/protocols/shared/xml.js', '/dist/src/protocols/ews/soap.js'],
  'activesync-wbxml': ['/dist/src/protocols/activesync/wbxml/'],
};

/** One input that runs longer than this counts as a hang (fuzz runs only; crash.test.ts replays without a clock). */
const HANG_MS = 10_000;

interface Range { startOffset: number; endOffset: number; count: number }

/** Bytes of the scripts under `folders` that ran at least once, from V8 precise block coverage. */
function coverage(result: Array<{ url: string; functions: Array<{ ranges: Range[] }> }>, folders: string[]): { covered: number; total: number; files: number; functions: number; functionsRun: number } {
  let covered = 0;
  let total = 0;
  let files = 0;
  let functions = 0;
  let functionsRun = 0;
  for (const script of result) {
    if (!folders.some((f) => script.url.includes(f))) continue;
    const size = Math.max(0, ...script.functions.flatMap((f) => f.ranges.map((r) => r.endOffset)));
    const counts = new Uint8Array(size);
    // ranges come outermost first: painting in order leaves each byte with its innermost count
    for (const f of script.functions) for (const r of f.ranges) counts.fill(r.count > 0 ? 1 : 0, r.startOffset, r.endOffset);
    files++;
    total += size;
    // the first function of a script is the module body itself, not one of its functions
    for (const f of script.functions.slice(1)) {
      functions++;
      if ((f.ranges[0]?.count ?? 0) > 0) functionsRun++;
    }
    covered += counts.reduce((n, c) => n + c, 0);
  }
  return { covered, total, files, functions, functionsRun };
}

async function main(): Promise<void> {
  const [name, secondsText] = process.argv.slice(2);
  const budgetMs = Number(secondsText ?? '60') * 1000;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  // the targets (and the code under test) are loaded only now, so that their module-level code
  // counts as run: loaded before, it would read as never run
  const { TARGETS } = (await import('./targets.js')) as { TARGETS: Array<FuzzTarget<never>> };
  const target = TARGETS.find((t) => t.name === name);
  if (!target) throw new Error(`unknown target ${name}; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  await target.setUp?.();
  const started = Date.now();
  let executions = 0;
  let crashes = 0;
  try {
    while (Date.now() - started < budgetMs) {
      const seed = Math.floor(Math.random() * 2 ** 31);
      const r = await fc.check(fc.asyncProperty(target.arbitrary, async (input) => {
        const t0 = Date.now();
        await target.check(input);
        // a hang: no input of these sizes needs seconds; the bound is generous for a busy machine
        if (Date.now() - t0 > HANG_MS) throw new Error(`one input took ${Date.now() - t0} ms (hang bound ${HANG_MS} ms)`);
      }), { numRuns: 100, seed, endOnFailure: true });
      executions += r.numRuns + r.numShrinks;
      if (r.failed) {
        crashes++;
        if (crashes > 20) break; // the same bug, over and over: the saved ones are enough to go on
        mkdirSync(CRASH_DIR, { recursive: true });
        const file = join(CRASH_DIR, `${target.name}-${seed}.json`);
        writeFileSync(file, JSON.stringify({ target: target.name, seed, error: String((r.errorInstance as Error | undefined)?.message ?? r.errorInstance).slice(0, 2000), input: r.counterexample?.[0] }, null, 2) + '\n');
        process.stdout.write(`CRASH ${target.name}: saved ${file}\n`);
      }
    }
  } finally {
    await target.tearDown?.();
  }
  const { result } = (await session.post('Profiler.takePreciseCoverage')) as unknown as { result: Array<{ url: string; functions: Array<{ ranges: Range[] }> }> };
  const cov = coverage(result, COVERED[target.name] ?? []);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`${target.name}: ${executions} executions in ${Math.round(seconds)} s (${Math.round(executions / seconds)}/s), ${crashes} crash(es); ` +
    `coverage of ${cov.files} files (${(COVERED[target.name] ?? []).join(', ')}): ${(100 * cov.covered / Math.max(1, cov.total)).toFixed(1)}% of bytes, ` +
    `${cov.functionsRun}/${cov.functions} functions (${(100 * cov.functionsRun / Math.max(1, cov.functions)).toFixed(1)}%)\n`);
  process.exitCode = crashes ? 1 : 0;
}

await main();
