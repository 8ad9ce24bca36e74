/**
 * Finds the long event-loop turns in a V8 .cpuprofile (node --cpu-prof): stretches of samples in
 * which the thread never went idle. The p99 of monitorEventLoopDelay is made of those stretches,
 * not of the total CPU time a profile's usual summary shows, so this says what to move off the
 * loop or cut up: the functions that run inside the long stretches, by time spent there.
 * Usage: node dist/bench/lib/long-turns.js FILE.cpuprofile [threshold ms = 3] [TICKS file: see lateTicks]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { label, type CpuProfile } from './cpuprofile.js';

export interface LongTurns {
  busyMs: number;
  /** Non-idle stretches of at least the threshold, longest first (ms). */
  turns: number[];
  /** Time inside the long stretches per function (inclusive, once per stack), ms. */
  inside: Array<{ fn: string; ms: number }>;
  /** Stack (leaf first, 6 frames) of the sample in the middle of each of the 10 longest stretches. */
  examples: Array<{ ms: number; stack: string[] }>;
}

/** A profile's samples with their time deltas, and each sample's stack (leaf first, labelled). */
function readSamples(file: string) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stack = (id: number): string[] => {
    const out: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) out.push(label(byId.get(cur)!));
    return out.filter((s) => s !== '(root)');
  };
  const isIdle = (id: number) => byId.get(id)!.callFrame.functionName === '(idle)';
  return { startTime: p.startTime, samples: p.samples ?? [], deltas: p.timeDeltas ?? [], stack, isIdle };
}

export function longTurns(file: string, thresholdMs = 3, top = 25): LongTurns {
  const { samples, deltas, stack, isIdle } = readSamples(file);
  const turns: number[] = [];
  const inside = new Map<string, number>();
  const examples: Array<{ ms: number; stack: string[] }> = [];
  let busyUs = 0;
  let start = -1;
  const close = (end: number) => {
    if (start < 0) return;
    let us = 0;
    for (let i = start; i < end; i++) us += Math.max(0, deltas[i + 1] ?? 0);
    if (us >= thresholdMs * 1000) {
      turns.push(us / 1000);
      for (let i = start; i < end; i++) {
        const dt = Math.max(0, deltas[i + 1] ?? 0);
        for (const fn of new Set(stack(samples[i]!))) inside.set(fn, (inside.get(fn) ?? 0) + dt);
      }
      examples.push({ ms: us / 1000, stack: stack(samples[(start + end) >> 1]!).slice(0, 6) });
    }
    start = -1;
  };
  for (let i = 0; i < samples.length; i++) {
    if (isIdle(samples[i]!)) close(i);
    else {
      busyUs += Math.max(0, deltas[i + 1] ?? 0);
      if (start < 0) start = i;
    }
  }
  close(samples.length);
  return {
    busyMs: busyUs / 1000,
    turns: turns.sort((a, b) => b - a),
    inside: [...inside].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({ fn, ms: us / 1000 })),
    examples: examples.sort((a, b) => b.ms - a.ms).slice(0, 10),
  };
}

/**
 * What ran in the stretches the server's own 1 ms timer found late (BENCH_LONG_TICKS, see
 * event-loop-delay.ts): per function, the time of the samples inside those stretches (inclusive,
 * once per stack) and, apart, by the frame just under the loop (the phase: timers, immediates,
 * socket reads, store answers, microtasks), so a late tick is charged to what delayed it.
 */
export function lateTicks(profileFile: string, ticksFile: string, minOwnMs: number, top = 30): { ticks: number; sampledMs: number; inside: Array<{ fn: string; ms: number }>; entry: Array<{ fn: string; ms: number }>; self: Array<{ fn: string; ms: number }> } {
  const { startTime, samples, deltas, stack } = readSamples(profileFile);
  const at: number[] = [];
  let t = startTime;
  for (let i = 0; i < samples.length; i++) at.push((t += deltas[i] ?? 0));
  const windows = readFileSync(ticksFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(Number) as [number, number, number])
    .filter(([, late]) => late >= minOwnMs * 1000)
    .map(([end, late, wait]) => [end - late - wait, end] as const);
  const inside = new Map<string, number>();
  const entry = new Map<string, number>();
  const self = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  let sampledUs = 0;
  let w = 0;
  for (let i = 0; i < samples.length && w < windows.length; i++) {
    while (w < windows.length && at[i]! > windows[w]![1]) w++;
    if (w >= windows.length || at[i]! < windows[w]![0]) continue;
    const dt = Math.max(0, deltas[i + 1] ?? 0);
    sampledUs += dt;
    const frames = stack(samples[i]!);
    for (const fn of new Set(frames)) add(inside, fn, dt);
    add(entry, frames.at(-1) ?? '(none)', dt);
    add(self, frames[0] ?? '(none)', dt);
  }
  const list = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({ fn, ms: us / 1000 }));
  return { ticks: windows.length, sampledMs: sampledUs / 1000, inside: list(inside), entry: list(entry), self: list(self) };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[4]) {
  const [file, threshold, ticks] = process.argv.slice(2);
  const r = lateTicks(file!, ticks!, Number(threshold));
  process.stdout.write(`${r.ticks} ticks late by ≥ ${threshold} ms of the server's own; ${r.sampledMs.toFixed(0)} ms of profile samples inside them\n`);
  process.stdout.write('by entry (the frame under the loop):\n');
  for (const l of r.entry) process.stdout.write(`  ${l.ms.toFixed(1).padStart(8)} ms  ${l.fn}\n`);
  process.stdout.write('self (leaf):\n');
  for (const l of r.self) process.stdout.write(`  ${l.ms.toFixed(1).padStart(8)} ms  ${l.fn}\n`);
  process.stdout.write('inclusive:\n');
  for (const l of r.inside) process.stdout.write(`  ${l.ms.toFixed(1).padStart(8)} ms  ${l.fn}\n`);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, threshold] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: long-turns FILE.cpuprofile [threshold-ms]\n');
    process.exit(2);
  }
  const r = longTurns(file, Number(threshold ?? 3));
  const total = r.turns.reduce((s, x) => s + x, 0);
  process.stdout.write(`busy ${r.busyMs.toFixed(0)} ms; ${r.turns.length} turns ≥ ${threshold ?? 3} ms, ${total.toFixed(0)} ms in all; longest ${r.turns.slice(0, 15).map((t) => t.toFixed(1)).join(', ')}\n`);
  process.stdout.write('inside the long turns (inclusive):\n');
  for (const l of r.inside) process.stdout.write(`  ${l.ms.toFixed(1).padStart(8)} ms  ${l.fn}\n`);
  process.stdout.write('the middle sample of the longest turns:\n');
  for (const e of r.examples) process.stdout.write(`  ${e.ms.toFixed(1)} ms: ${e.stack.join(' < ')}\n`);
}
