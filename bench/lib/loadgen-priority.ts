/**
 * `BENCH_LOADGEN_NICE=N` (off by default): the load generator (this benchmark process, every
 * thread of it, and what it forks afterwards) runs N nice levels below the servers it measures.
 *
 * Why: on the benchmark machine the clients share the cores with the server, which a deployment's
 * clients (on other machines) do not; the server's event-loop delay then includes the time its
 * main thread waits for a core the clients hold. Niced, the clients still send the same commands
 * and wait for every answer, but yield a core to the server when both want one, so the delay
 * reads closer to what the server causes. Both servers are treated alike: Mailwarden's server
 * child and Dovecot's master (and the processes it forks per login) are spawned before the renice
 * and keep the priority the benchmark was started with. The idle probe (event-loop-delay.ts) is
 * put back at the servers' priority, so it stays the machine's baseline beside the server.
 *
 * A niced run is a second figure, never the published one: bench/run.ts then prints its table
 * but writes neither bench/RESULTS.md nor bench/results.json, and the metric names say "niced".
 */
import { getPriority, setPriority } from 'node:os';
import { readdirSync } from 'node:fs';

/** The increment asked for (0 = off). */
export const LOADGEN_NICE = Math.max(0, Math.min(19, Number(process.env.BENCH_LOADGEN_NICE ?? 0) || 0));

/** The servers' nice value, remembered when the load generator is lowered. */
let serverNice: number | null = null;

/** Every thread of a process, the main one first (Linux nice values are per thread). */
function setAllThreads(pid: number, nice: number): void {
  setPriority(pid, nice);
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return; // no /proc: only the main thread
  }
  for (const t of tasks) {
    try {
      setPriority(Number(t), nice);
    } catch {
      // a thread that ended meanwhile
    }
  }
}

/**
 * Lowers this process (all its threads) by LOADGEN_NICE, once the servers are spawned. Returns
 * the nice values before and after, or null when off.
 */
export function lowerLoadGenerator(): { serverNice: number; loadgenNice: number } | null {
  if (LOADGEN_NICE === 0) return null;
  if (serverNice === null) serverNice = getPriority(0);
  const loadgenNice = Math.min(19, serverNice + LOADGEN_NICE);
  setAllThreads(process.pid, loadgenNice);
  return { serverNice, loadgenNice };
}

/** A process forked after lowerLoadGenerator() that must run at the servers' priority (needs CAP_SYS_NICE, e.g. root). */
export function atServerPriority(pid: number | undefined): void {
  if (serverNice === null || pid === undefined) return;
  try {
    setAllThreads(pid, serverNice);
  } catch {
    // not allowed to raise it again: the probe then reads the niced baseline (said in the note)
  }
}

/** Appended to metric names of a niced run, so that its rows are never taken for the equal-priority ones. */
export const nicedLabel = (): string => (LOADGEN_NICE ? ` [load generator niced +${LOADGEN_NICE}]` : '');
