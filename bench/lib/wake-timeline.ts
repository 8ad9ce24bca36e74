/**
 * Where a wake's time goes, seen from inside the server child: when the store published its
 * changes (after the commit: the delivery's own work ends there) and when the HTTP answers were
 * written out (`http.server.response.finish`). Times are process.hrtime (CLOCK_MONOTONIC, the same
 * clock in every process of the machine), so the benchmark lines them up with its own: message
 * sent → changes published → answers written by the server → answers read by the client. The
 * last two apart say whether the server or the one client process is the slower side.
 * Armed over the child's IPC channel just before the wake; costs nothing until then.
 */
import { subscribe } from 'node:diagnostics_channel';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import type { ChangeBus } from '../../src/store/change-bus.js';
import { askChild } from './ipc.js';
import { mainThreadSchedstat } from './event-loop-delay.js';

export interface WakeTimeline {
  publishes: number;
  firstPublishMs: number;
  lastPublishMs: number;
  answers: number;
  firstAnswerMs: number;
  lastAnswerMs: number;
  /**
   * CPU time of the server's main thread (Linux schedstat), ms: from arming to the first change
   * published (the delivery's share), and from there to the end of the event-loop turn in which
   * the last answer was written (the answers').
   * Unlike the times above, it hardly depends on how many other processes want the two cores.
   */
  cpuDeliveryMs: number;
  cpuAnswersMs: number;
  /**
   * V8's collections from arming to the read, by kind (scavenge, mark-compact, …): how many and
   * their pauses on the main thread, ms. The helper threads' share is not in it (see the whole
   * process's CPU over the wake, event-loop-delay.ts).
   */
  gc: Record<string, { count: number; ms: number }>;
}

type Request = { wakeTimeline: 'arm' | 'read'; seq: number };
type Reply = { wakeTimelineSeq: number; timeline?: WakeTimeline };

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** In the server child: arms on request (wrapping the bus's publish, subscribing to answers) and reports. */
export function serveWakeTimeline(changes: ChangeBus): void {
  let t: WakeTimeline | null = null;
  // the main thread's CPU time so far, ms (NaN where there is no schedstat)
  const sched = mainThreadSchedstat();
  const cpu = () => (sched ? sched().runNs / 1e6 : NaN);
  let cpuArmed = 0;
  let cpuPublished = 0;
  const publish = changes.publish.bind(changes);
  changes.publish = (c) => {
    if (t) {
      const at = now();
      if (t.publishes++ === 0) {
        t.firstPublishMs = at;
        cpuPublished = cpu();
        t.cpuDeliveryMs = cpuPublished - cpuArmed;
      }
      t.lastPublishMs = at;
    }
    publish(c);
  };
  // the CPU time is read once a turn, after the turn's answers, not at every answer: a schedstat
  // read is a system call (≈ 3.5 µs, 7 % of a woken Ping's CPU in the profile when read per answer)
  let cpuReadQueued = false;
  const readCpu = () => {
    cpuReadQueued = false;
    if (t) t.cpuAnswersMs = cpu() - cpuPublished;
  };
  const onFinish = () => {
    if (!t) return;
    const at = now();
    if (t.answers++ === 0) t.firstAnswerMs = at;
    t.lastAnswerMs = at;
    if (!cpuReadQueued) {
      cpuReadQueued = true;
      setImmediate(readCpu);
    }
  };
  const gcKinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
  };
  const countGc = (entries: PerformanceEntry[]) => {
    if (!t) return;
    for (const e of entries as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
      const kind = gcKinds[e.detail?.kind ?? -1] ?? 'other';
      const k = (t.gc[kind] ??= { count: 0, ms: 0 });
      k.count++;
      k.ms += e.duration;
    }
  };
  const gcObserver = new PerformanceObserver((list) => countGc(list.getEntries()));
  const allocations = allocationSampler(process.env.BENCH_WAKE_ALLOC);
  // Subscribed from the start, not when armed: a channel's first subscriber changes what V8
  // compiled Node's HTTP code against (`hasSubscribers`), and the wake would run deoptimised
  // code and recompile it on the 2 cores (seen with --trace-deopt). Until armed, each costs a check.
  subscribe('http.server.response.finish', onFinish);
  gcObserver.observe({ entryTypes: ['gc'] });
  process.on('message', async (m: Request) => {
    if (!m || typeof m !== 'object' || !('wakeTimeline' in m)) return;
    if (m.wakeTimeline === 'arm') {
      await allocations.start();
      if (process.env.BENCH_MW_STDOUT) process.stdout.write('--- wake timeline armed ---\n');
      t = { publishes: 0, firstPublishMs: NaN, lastPublishMs: NaN, answers: 0, firstAnswerMs: NaN, lastAnswerMs: NaN, cpuDeliveryMs: NaN, cpuAnswersMs: NaN, gc: {} };
      cpuArmed = cpu();
      process.send?.({ wakeTimelineSeq: m.seq } satisfies Reply);
      return;
    }
    await allocations.stop();
    if (process.env.BENCH_MW_STDOUT) process.stdout.write('--- wake timeline read ---\n');
    // the entries of the last collections are delivered in a later turn: take them now
    countGc(gcObserver.takeRecords());
    if (cpuReadQueued) readCpu();
    process.send?.({ wakeTimelineSeq: m.seq, timeline: t ?? undefined } satisfies Reply);
    t = null;
  });
}

/**
 * `BENCH_WAKE_ALLOC=FILE`: V8's sampling heap profiler from arming to the read, counting what was
 * collected meanwhile too (what a wake allocates, not what it keeps), written to FILE.PID.heapprofile
 * (Chrome DevTools' Memory tab opens it). Sampling costs the server CPU: not for timed runs.
 */
function allocationSampler(file: string | undefined): { start(): Promise<void>; stop(): Promise<void> } {
  if (!file) return { start: async () => undefined, stop: async () => undefined };
  const session = new Session();
  session.connect();
  return {
    start: async () => {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
    },
    stop: async () => {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(`${file}.${process.pid}.heapprofile`, JSON.stringify(profile));
    },
  };
}

/** In the benchmark: arm before the wake, read after it. */
export function wakeTimelineOf(child: ChildProcess): { arm(): Promise<void>; read(): Promise<WakeTimeline> } {
  let seq = 0;
  const ask = async (what: Request['wakeTimeline']) => (await askChild<Reply, Request>(child, { wakeTimeline: what, seq: ++seq }, 'wakeTimelineSeq')).timeline;
  return { arm: async () => void (await ask('arm')), read: async () => (await ask('read'))! };
}
