import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Memory of a process and all its descendants (Linux /proc). PSS splits shared pages fairly between processes. */
export interface MemoryUse {
  processes: number;
  rssKiB: number;
  pssKiB: number;
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may contain spaces and parentheses: ppid follows the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return null;
  }
}

function rollup(pid: number): { rss: number; pss: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const rss = Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    const pss = Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    return { rss, pss };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

/** A process and all its descendants (Linux /proc). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    if (ppid === null) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const all: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    all.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return all;
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on Linux everywhere that matters). */
const USER_HZ = 100;

/**
 * CPU time (user + system, ms) used so far by a process and its descendants, including children
 * that have exited and been waited for (Dovecot's per-connection processes): the cost of work done
 * between two readings, whatever the machine's load, at a resolution of 10 ms.
 */
export function processTreeCpuMs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields 14–17 of proc(5): utime, stime, cutime, cstime (f[0] is field 3)
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // the process ended between the listing and the read
    }
  }
  return (ticks * 1000) / USER_HZ;
}

export function processTreeMemory(root: number): MemoryUse {
  const all = processTree(root);
  let rssKiB = 0;
  let pssKiB = 0;
  for (const p of all) {
    const m = rollup(p);
    rssKiB += m.rss;
    pssKiB += m.pss;
  }
  return { processes: all.length, rssKiB, pssKiB };
}

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** SIGTERM, up to 10 s for a clean exit (a server releases its sessions), then SIGKILL. */
export async function stopChild(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}
