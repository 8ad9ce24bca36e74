/**
 * The server child's event-loop delay (perf_hooks.monitorEventLoopDelay), read by the benchmark
 * over the child's IPC channel: reset before a load round, read after it. It says how long a
 * client of the node waited because the loop was busy (e.g. in a synchronous SQLite call).
 */
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { log, summarise, type BenchResult } from './stats.js';
import { askChild } from './ipc.js';
import { atServerPriority } from './loadgen-priority.js';

/** Delay percentiles over one window, in ms. */
export interface EventLoopDelay {
  p50: number;
  p99: number;
  max: number;
  /**
   * The same delay less the time the main thread waited for a core (Linux schedstat): what the
   * process's own work and blocking calls cause. On a machine with more runnable threads than
   * cores most of p99 above is that wait, which no change in the server removes.
   */
  own?: { p99: number; max: number };
  /** CPU time of the main thread (schedstat) and of the whole process (all threads) over the window, ms. */
  cpu?: { mainMs: number; processMs: number };
}

type Request = { eventLoopDelay: 'reset' | 'read'; seq: number };
type Reply = { eventLoopDelaySeq: number; delay?: EventLoopDelay };

/**
 * Sampling interval in ms. The histogram records the time between two samples (an idle loop
 * reads ≈ the interval, not 0: measured), so the delay is that minus the interval; 1 ms, so
 * that stalls of a few ms are caught (a 10 ms interval misses most of them).
 */
const RESOLUTION_MS = 1;

/**
 * The main thread's cumulative wait for a core, in ns: the second field of
 * /proc/self/task/<pid>/schedstat (the main thread's task id is the pid), read with pread on
 * one descriptor kept open. null where there is no schedstat.
 */
export function mainThreadSchedstat(): (() => { runNs: number; waitNs: number }) | null {
  let fd: number;
  try {
    fd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
  } catch {
    return null;
  }
  const buf = Buffer.alloc(128);
  process.once('exit', () => closeSync(fd));
  return () => {
    const f = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)).split(' ');
    return { runNs: Number(f[0]), waitNs: Number(f[1]) };
  };
}

/**
 * `BENCH_LONG_TICKS=FILE` (with `--cpu-prof` in BENCH_MW_NODE_ARGS): the server child writes FILE.PID, one
 * line per late tick of its own 1 ms timer whose own lateness (less the wait for a core) is at
 * least 2 ms: the tick's time (µs, the clock V8's profile timestamps use) and the lateness and
 * wait (µs). `node dist/bench/lib/long-turns.js PROFILE 3 FILE` then says what ran in exactly those
 * stretches, which the profile alone cannot (under load the loop rarely goes idle, so its busy
 * stretches span many turns).
 */
function longTicksRecorder(): ((at: bigint, lateNs: number, waitNs: number) => void) | null {
  const file = process.env.BENCH_LONG_TICKS;
  if (!file) return null;
  const lines: string[] = [];
  // one file per process: the idle probe and the empty probe server run this too
  process.once('exit', () => writeFileSync(`${file}.${process.pid}`, lines.join('')));
  return (at, lateNs, waitNs) => {
    if (lateNs >= 2e6) lines.push(`${Number(at / 1000n)} ${Math.round(lateNs / 1000)} ${Math.round(waitNs / 1000)}\n`);
  };
}

/** In the server child: samples the loop and answers reset/read requests. */
export function serveEventLoopDelay(): void {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  const ms = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  // The delay less the wait for a core: a 1 ms timer of our own, each tick's lateness minus what
  // the thread spent runnable but not running since the tick before (same histogram units, ns).
  const own = createHistogram();
  const sched = mainThreadSchedstat();
  const waited = sched && (() => sched().waitNs);
  let cpuAtReset = { mainNs: sched?.().runNs ?? 0, process: process.cpuUsage() };
  const ticks = longTicksRecorder();
  if (waited) {
    let lastAt = process.hrtime.bigint();
    let lastWait = waited();
    setInterval(() => {
      const at = process.hrtime.bigint();
      const wait = waited();
      const late = Number(at - lastAt) - RESOLUTION_MS * 1e6 - (wait - lastWait);
      own.record(Math.max(1, Math.round(late)));
      ticks?.(at, late, wait - lastWait);
      lastAt = at;
      lastWait = wait;
    }, RESOLUTION_MS).unref();
  }
  const ownMs = (ns: number) => Math.max(0, ns / 1e6);
  process.on('message', (m: Request) => {
    if (!m || typeof m !== 'object' || !('eventLoopDelay' in m)) return;
    let delay: EventLoopDelay | undefined;
    if (m.eventLoopDelay === 'reset') {
      h.reset();
      own.reset();
      cpuAtReset = { mainNs: sched?.().runNs ?? 0, process: process.cpuUsage() };
    } else {
      delay = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
      if (waited && own.count > 0) delay.own = { p99: ownMs(own.percentile(99)), max: ownMs(own.max) };
      const p = process.cpuUsage(cpuAtReset.process);
      delay.cpu = { mainMs: sched ? (sched().runNs - cpuAtReset.mainNs) / 1e6 : NaN, processMs: (p.user + p.system) / 1000 };
    }
    process.send?.({ eventLoopDelaySeq: m.seq, delay } satisfies Reply);
  });
}

/** In the benchmark: the requests to a child running serveEventLoopDelay (stdio with 'ipc'). */
export function eventLoopDelayOf(child: ChildProcess): { reset(): Promise<void>; read(): Promise<EventLoopDelay> } {
  let seq = 0;
  const ask = async (what: Request['eventLoopDelay']) => (await askChild<Reply, Request>(child, { eventLoopDelay: what, seq: ++seq }, 'eventLoopDelaySeq')).delay;
  return { reset: async () => void (await ask('reset')), read: async () => (await ask('read'))! };
}

/** Starts bench/lib/loop-probe.js: an idle Node process's event-loop delay, the machine's baseline. */
export function startIdleProbe(): { delay: ReturnType<typeof eventLoopDelayOf>; stop(): void } {
  const child = fork(fileURLToPath(new URL('./loop-probe.js', import.meta.url)), [], { stdio: 'ignore' });
  atServerPriority(child.pid); // beside the server, not beside a niced load generator (loadgen-priority.ts)
  return { delay: eventLoopDelayOf(child), stop: () => child.disconnect() };
}

export const formatDelay = (d: EventLoopDelay): string =>
  `event-loop delay p50 ${d.p50.toFixed(1)} ms, p99 ${d.p99.toFixed(1)} ms, max ${d.max.toFixed(1)} ms` +
  (d.own ? ` (less the wait for a core: p99 ${d.own.p99.toFixed(1)} ms, max ${d.own.max.toFixed(1)} ms)` : '') +
  (d.cpu ? `; CPU main thread ${d.cpu.mainMs.toFixed(0)} ms, whole process ${d.cpu.processMs.toFixed(0)} ms` : '');

/**
 * Result rows: the per-round p50, p99 and max of the server's event-loop delay under a load,
 * and the p99 and max of an idle Node process at the same time (the machine's baseline).
 */
export function delayResults(bench: string, load: string, rounds: EventLoopDelay[], idle: EventLoopDelay[]): BenchResult[] {
  if (!rounds.length) return [];
  return [
    ...(['p50', 'p99', 'max'] as const).map((k) => ({
      bench, metric: `Mailwarden server event-loop delay ${k} during ${load} (per round)`, unit: 'ms', better: 'lower' as const,
      mw: summarise(rounds.map((r) => r[k])), target: k === 'p99' ? '< 5 ms' : undefined,
    })),
    ...(rounds.every((r) => r.own)
      ? (['p99', 'max'] as const).map((k) => ({
          bench, metric: `same, less the main thread's wait for a core (schedstat), ${k} (per round)`, unit: 'ms', better: 'lower' as const,
          mw: summarise(rounds.map((r) => r.own![k])), target: k === 'p99' ? '< 5 ms' : undefined,
        }))
      : []),
    ...(['p99', 'max'] as const).map((k) => ({
      bench, metric: `baseline: an idle Node process's event-loop delay ${k} at the same time (waiting for a core)`, unit: 'ms', better: 'lower' as const,
      mw: summarise(idle.map((r) => r[k])),
    })),
  ];
}

/** The server's and the idle probe's delay over one load round: reset both, run, read both. */
export async function measureDelays<T>(server: ReturnType<typeof eventLoopDelayOf>, probe: ReturnType<typeof eventLoopDelayOf>, load: () => Promise<T>): Promise<{ result: T; server: EventLoopDelay; idle: EventLoopDelay }> {
  await Promise.all([server.reset(), probe.reset()]);
  const result = await load();
  const [s, i] = await Promise.all([server.read(), probe.read()]);
  return { result, server: s, idle: i };
}

/**
 * The event-loop delays of a benchmark's load rounds: Mailwarden's rounds are measured (the
 * server's delay, and an idle Node process's at the same time as the baseline for waiting for a
 * core); Dovecot's rounds just run.
 */
export class RoundDelays {
  readonly server: EventLoopDelay[] = [];
  readonly idle: EventLoopDelay[] = [];
  private readonly probe = startIdleProbe();

  constructor(private readonly serverDelay: ReturnType<typeof eventLoopDelayOf> | undefined) {}

  /** Runs one round of the load, measured when `measure` (Mailwarden's side); `delay` is the server's. */
  async round<T>(measure: boolean, load: () => Promise<T>): Promise<{ result: T; delay: EventLoopDelay | null }> {
    if (!measure || !this.serverDelay) return { result: await load(), delay: null };
    const d = await measureDelays(this.serverDelay, this.probe.delay, load);
    this.server.push(d.server);
    this.idle.push(d.idle);
    log(`  idle Node process meanwhile: ${formatDelay(d.idle)}`);
    return { result: d.result, delay: d.server };
  }

  stop(): void {
    this.probe.stop();
  }
}
