/**
 * Waiting for a change without a worker: subscribe to the ChangeBus for the folders a Ping (or a
 * Sync with Wait) watches, and resolve on the first change, at the heartbeat's end, or when the
 * request is aborted (client gone, superseded, server stopping) — whichever comes first; every
 * subscription and the timer are gone when it resolves. A change answers in a later turn, a few
 * woken requests a turn (wake-turns.ts), so that 10,000 woken at once do not hold one turn.
 */
import type { ChangeBus } from '../../store/change-bus.js';
import { wakeInTurn } from './wake-turns.js';

export type WaitOutcome = { kind: 'changed'; folderIds: Set<number> } | { kind: 'heartbeat' } | { kind: 'aborted' };

export function waitForChange(bus: ChangeBus, userId: number, folderIds: readonly number[], heartbeatMs: number, signal: AbortSignal): Promise<WaitOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ kind: 'aborted' });
    const changed = new Set<number>();
    let settled = false;
    const finish = (o: WaitOutcome) => {
      if (settled) return;
      settled = true;
      for (const u of unsubscribes) u();
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = () => finish({ kind: 'aborted' });
    const unsubscribes = folderIds.map((id) => bus.subscribeFolder(userId, id, (c) => {
      // the rest of a burst (a delivery to several folders) lands in the same answer
      if (changed.size === 0) wakeInTurn(() => finish({ kind: 'changed', folderIds: changed }));
      changed.add(c.folderId);
    }));
    const timer = setTimeout(() => finish({ kind: 'heartbeat' }), heartbeatMs);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
