/**
 * CPU time by thread of a process (Linux /proc/PID/task/TID/schedstat), grouped by thread name:
 * the main thread, V8's GC and compiler helpers ("V8Worker"), libuv's pool, worker threads. A
 * benchmark on the 2 cores reads it before and after a measured stretch to say which threads
 * took the cores meanwhile — a process's total CPU does not say whether it was the event loop
 * or V8's helpers. Empty where there is no /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Per thread id: its name and CPU time so far, ns. */
export type ThreadCpu = Map<number, { name: string; runNs: number }>;

export function readThreadCpu(pid: number): ThreadCpu {
  const out: ThreadCpu = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const name = Number(tid) === pid ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const runNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out.set(Number(tid), { name, runNs });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** CPU ms by thread name between two readings (threads born meanwhile count from 0), largest first. */
export function threadCpuSince(before: ThreadCpu, after: ThreadCpu): Array<{ name: string; threads: number; ms: number; each: number[] }> {
  const byName = new Map<string, { threads: number; ms: number; each: number[] }>();
  for (const [tid, a] of after) {
    const ms = (a.runNs - (before.get(tid)?.runNs ?? 0)) / 1e6;
    const g = byName.get(a.name) ?? { threads: 0, ms: 0, each: [] };
    g.threads++;
    g.ms += ms;
    g.each.push(ms);
    byName.set(a.name, g);
  }
  return [...byName].map(([name, g]) => ({ name, ...g, each: g.each.sort((x, y) => y - x) })).sort((x, y) => y.ms - x.ms);
}

/**
 * "main 652 ms, node ×11 213 ms (90, 61, 40, …)": threads of one name (Node gives V8's helpers,
 * libuv's pool and worker threads the same one) with the busiest of them; under 1 ms left out.
 */
export function formatThreadCpu(rows: ReturnType<typeof threadCpuSince>): string {
  return rows.filter((r) => r.ms >= 1).map((r) => {
    const busiest = r.each.filter((ms) => ms >= 1).slice(0, 6).map((ms) => ms.toFixed(0));
    return `${r.name}${r.threads > 1 ? ` ×${r.threads}` : ''} ${r.ms.toFixed(0)} ms${r.threads > 1 && busiest.length ? ` (${busiest.join(', ')})` : ''}`;
  }).join(', ') || 'none';
}
