/**
 * Where a wake's time goes, seen from inside the server child: when the store published its
 * changes (after the commit: the delivery's own work ends there) and when the HTTP answers were
 * written out (`http.server.response.finish`). Times are process.hrtime (CLOCK_MONOTONIC, the same
 * clock in every process of the machine), so the benchmark lines them up with its own: message
 * sent → changes published → answers written by the server → answers read by the client. The
 * last two apart say whether the server or the one client process is the slower side.
 * Armed over the child's IPC channel just before the wake; costs nothing until then.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
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
  process.on('message', (m: Request) => {
    if (!m || typeof m !== 'object' || !('wakeTimeline' in m)) return;
    if (m.wakeTimeline === 'arm') {
      t = { publishes: 0, firstPublishMs: NaN, lastPublishMs: NaN, answers: 0, firstAnswerMs: NaN, lastAnswerMs: NaN, cpuDeliveryMs: NaN, cpuAnswersMs: NaN };
      cpuArmed = cpu();
      subscribe('http.server.response.finish', onFinish);
      process.send?.({ wakeTimelineSeq: m.seq } satisfies Reply);
      return;
    }
    unsubscribe('http.server.response.finish', onFinish);
    if (cpuReadQueued) readCpu();
    process.send?.({ wakeTimelineSeq: m.seq, timeline: t ?? undefined } satisfies Reply);
    t = null;
  });
}

/** In the benchmark: arm before the wake, read after it. */
export function wakeTimelineOf(child: ChildProcess): { arm(): Promise<void>; read(): Promise<WakeTimeline> } {
  let seq = 0;
  const ask = async (what: Request['wakeTimeline']) => (await askChild<Reply, Request>(child, { wakeTimeline: what, seq: ++seq }, 'wakeTimelineSeq')).timeline;
  return { arm: async () => void (await ask('arm')), read: async () => (await ask('read'))! };
}
