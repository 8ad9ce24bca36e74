/**
 * Woken held requests answer a few per event-loop turn, not all in the turn of the change.
 *
 * Why: one delivery to 100 users wakes every Ping those users' devices hold — 10,000 with 100
 * devices a user. Woken from the ChangeBus listener, all of them would run in the delivery's turn
 * and, through the microtask queue, in phases: every wait settles, then every Ping resumes, then
 * every answer is written; so the first answer left only once every wait had settled, and the
 * SMTP 250, new requests and TLS handshakes waited behind the last one (profile of the
 * 2,000-device wake in bench/RESULTS.md, issue 18). Taken in turns of WAKES_PER_TURN, the first
 * devices are answered at once, and everything else the server does gets a turn between slices.
 *
 * How: `wake` queues the callback (FIFO: the order the changes came in); one setImmediate per
 * slice runs the next WAKES_PER_TURN. The callbacks only settle a wait; the answers are written in
 * the microtasks that follow each slice, within the same turn. A callback queued for a request
 * that ended meanwhile (aborted, heartbeat) is a no-op by contract of its caller.
 */

/** How many woken requests one turn answers: at about 0.3–0.5 ms an answer (TLS write included), a few ms a turn. */
export const WAKES_PER_TURN = 16;

const queue: Array<() => void> = [];
let head = 0;
let scheduled = false;

function runSlice(): void {
  const end = Math.min(queue.length, head + WAKES_PER_TURN);
  for (; head < end; head++) {
    const wake = queue[head]!;
    queue[head] = undefined as unknown as () => void; // let it be collected before the queue drains
    try {
      wake();
    } catch {
      // a callback only settles a promise; one that throws must not keep the others waiting
    }
  }
  if (head < queue.length) {
    setImmediate(runSlice);
    return;
  }
  queue.length = 0;
  head = 0;
  scheduled = false;
}

/** Runs `fn` in a later turn, after the ones woken before it, at most WAKES_PER_TURN a turn. */
export function wakeInTurn(fn: () => void): void {
  queue.push(fn);
  if (scheduled) return;
  scheduled = true;
  setImmediate(runSlice);
}
