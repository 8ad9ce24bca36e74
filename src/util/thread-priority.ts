/**
 * CPU priority of one thread of this process (Linux: `nice` is per thread, set through its
 * thread id). The server's background threads (the store thread) run a few levels below the
 * event loop, so that when the cores are busy the loop — which every client of the node waits
 * for — gets a core first when it wakes, and the background thread takes what is left.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The calling thread's id (`/proc/thread-self` → `PID/task/TID`), or null where there is none. */
function threadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/**
 * Lowers the calling thread's priority by `levels` nice levels (at most to 19). False where it
 * cannot be done (not Linux, no /proc, refused): the thread then keeps the process's priority,
 * which is only less fair, never wrong.
 */
export function lowerThisThreadPriority(levels: number): boolean {
  const tid = threadId();
  if (tid === null) return false;
  try {
    setPriority(tid, Math.min(19, getPriority(tid) + levels));
    return true;
  } catch {
    return false;
  }
}
