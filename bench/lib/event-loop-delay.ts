/**
 * The server child's event-loop delay (perf_hooks.monitorEventLoopDelay), read by the benchmark
 * over the child's IPC channel: reset before a load round, read after it. It says how long a
 * client of the node waited because the loop was busy (e.g. in a synchronous SQLite call).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import { summarise, type BenchResult } from './stats.js';

/** Delay percentiles over one window, in ms. */
export interface EventLoopDelay {
  p50: number;
  p99: number;
  max: number;
}

type Request = { eventLoopDelay: 'reset' | 'read'; seq: number };
type Reply = { eventLoopDelaySeq: number; delay?: EventLoopDelay };

/**
 * In the server child: samples the loop (Node's default 10 ms resolution: the delay recorded
 * is how late each sample ran, so shorter stalls count too) and answers reset/read requests.
 */
export function serveEventLoopDelay(): void {
  const h = monitorEventLoopDelay();
  h.enable();
  process.on('message', (m: Request) => {
    if (!m || typeof m !== 'object' || !('eventLoopDelay' in m)) return;
    let delay: EventLoopDelay | undefined;
    if (m.eventLoopDelay === 'reset') h.reset();
    else delay = { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
    process.send?.({ eventLoopDelaySeq: m.seq, delay } satisfies Reply);
  });
}

/** In the benchmark: the requests to a child running serveEventLoopDelay (stdio with 'ipc'). */
export function eventLoopDelayOf(child: ChildProcess): { reset(): Promise<void>; read(): Promise<EventLoopDelay> } {
  let seq = 0;
  const ask = (what: Request['eventLoopDelay']) =>
    new Promise<EventLoopDelay | undefined>((resolve, reject) => {
      const mine = ++seq;
      const onMessage = (m: Reply) => {
        if (m?.eventLoopDelaySeq !== mine) return;
        child.off('message', onMessage);
        resolve(m.delay);
      };
      child.on('message', onMessage);
      child.send({ eventLoopDelay: what, seq: mine } satisfies Request, (err) => err && reject(err));
    });
  return { reset: async () => void (await ask('reset')), read: async () => (await ask('read'))! };
}

export const formatDelay = (d: EventLoopDelay): string => `event-loop delay p50 ${d.p50.toFixed(1)} ms, p99 ${d.p99.toFixed(1)} ms, max ${d.max.toFixed(1)} ms`;

/** Result rows: the per-round p50, p99 and max of the server's event-loop delay under a load. */
export function delayResults(bench: string, load: string, rounds: EventLoopDelay[]): BenchResult[] {
  if (!rounds.length) return [];
  return (['p50', 'p99', 'max'] as const).map((k) => ({
    bench, metric: `Mailwarden server event-loop delay ${k} during ${load} (per round)`, unit: 'ms', better: 'lower' as const,
    mw: summarise(rounds.map((r) => r[k])), target: k === 'p99' ? '< 5 ms' : undefined,
  }));
}
