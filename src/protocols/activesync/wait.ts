/**
 * Waiting for a change without a worker: subscribe to the ChangeBus for the folders a Ping (or a
 * Sync with Wait) watches, and resolve on the first change, at the heartbeat's end, or when
 * cancelled (client gone, superseded, server stopping) — whichever comes first; every
 * subscription and the timer are gone when it resolves. A change answers in a later turn, a few
 * woken requests a turn (wake-turns.ts), so that 10,000 woken at once do not hold one turn.
 *
 * Cancelled through `cancel()`, not an AbortSignal of its own: an AbortController per held
 * request, and adding and removing its listener, are EventTarget work (and memory) for each of
 * 10,000 Pings, for something only its own request ever triggers.
 */
import type { ChangeBus } from '../../store/change-bus.js';
import { wakeInTurn } from './wake-turns.js';

export type WaitOutcome = { kind: 'changed'; folderIds: Set<number> } | { kind: 'heartbeat' } | { kind: 'aborted' };

export interface ChangeWait {
  outcome: Promise<WaitOutcome>;
  /** Ends the wait now with `aborted` (a no-op once it ended). */
  cancel(): void;
}

export function waitForChange(bus: ChangeBus, userId: number, folderIds: readonly number[], heartbeatMs: number): ChangeWait {
  let finish!: (o: WaitOutcome) => void;
  const outcome = new Promise<WaitOutcome>((resolve) => {
    const changed = new Set<number>();
    let settled = false;
    finish = (o: WaitOutcome) => {
      if (settled) return;
      settled = true;
      for (const u of unsubscribes) u();
      clearTimeout(timer);
      resolve(o);
    };
    const unsubscribes = folderIds.map((id) => bus.subscribeFolder(userId, id, (c) => {
      // the rest of a burst (a delivery to several folders) lands in the same answer
      if (changed.size === 0) wakeInTurn(() => finish({ kind: 'changed', folderIds: changed }));
      changed.add(c.folderId);
    }));
    const timer = setTimeout(() => finish({ kind: 'heartbeat' }), heartbeatMs);
    timer.unref();
  });
  return { outcome, cancel: () => finish({ kind: 'aborted' }) };
}

/** Cancels `wait` when the request's signal aborts (or at once, if it has). */
export function cancelOnAbort(wait: ChangeWait, signal: AbortSignal): void {
  if (signal.aborted) wait.cancel();
  // not removed when the wait ends: the signal is its request's own and is not aborted after
  // the request (plugin.ts), and an EventTarget removal is a measurable part of waking 10,000
  else signal.addEventListener('abort', wait.cancel, { once: true });
}
