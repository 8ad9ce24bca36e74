/**
 * The backend-neutral half of Store.changesSince: given the rows a backend found changed after
 * a state (live objects by their last change, tombstones), the answer — ids once each, oldest
 * first, cut at `maxChanges` with `hasMore` — and the checks of the state a client sent. Each
 * backend reads its own rows (sqlite/change-state.ts, postgres/postgres-store.ts); the rules of
 * what is created, updated or destroyed are here once.
 */
import { StoreError } from './errors.js';
import { fromObjectId, toObjectId } from './object-ids.js';
import type { AccountChanges } from './types.js';

/**
 * Tombstones are kept this long, then pruned. A client whose state is older than the newest
 * pruned tombstone gets `cannot-calculate-changes` and syncs afresh (EWS: a new SyncState;
 * ActiveSync: SyncKey 0; JMAP: cannotCalculateChanges). 90 days is longer than phones and
 * desktop clients stay away in practice, and a tombstone is ~40 bytes. The per-folder QRESYNC
 * records (`expunged`) are not pruned by this.
 */
export const TOMBSTONE_DAYS = 90;

/** One changed object: a living one (its last change) or a tombstone. */
export interface ChangeEntry { type: 'message' | 'folder'; live: boolean; o: number; s: number }

/** Where changesSince looks: its rows, and how it tells a new object and a gone one. */
export interface ChangeScope {
  /** Each source ordered by state and cut at `limit` rows (changeLimit). */
  sources: ChangeEntry[][];
  /** A living object changed after `since`: new to the client, or one it has? */
  isNew(e: ChangeEntry): boolean;
  /** A tombstone's object: gone from the scope (not moved within it, or back into it)? */
  isGone(e: ChangeEntry): boolean;
}

/** The state number a client sent, checked against the account's current state and the floor of the history kept. */
export function parseSinceState(sinceState: string, current: number, floor: number): number {
  const since = fromObjectId('state', sinceState);
  if (since === null || since > current) throw new StoreError('cannot-calculate-changes', `"${String(sinceState).slice(0, 40)}" is not a state of this account`);
  if (since < floor) throw new StoreError('cannot-calculate-changes', `state ${sinceState} is older than the change history kept (${TOMBSTONE_DAYS} days): sync afresh`);
  return since;
}

/** How many rows each source reads: one more than asked, to tell a cut source. */
export const changeLimit = (maxChanges: number): number => Math.max(1, Math.floor(maxChanges)) + 1;

/** The answer from the rows of a scope (see Store.changesSince). */
export function mergeChanges(sinceState: string, since: number, current: number, maxChanges: number, scope: ChangeScope): AccountChanges {
  const out: AccountChanges = {
    oldState: sinceState, newState: sinceState, hasMore: false,
    messages: { created: [], updated: [], destroyed: [] }, folders: { created: [], updated: [], destroyed: [] },
  };
  if (since === current) return out;
  const limit = changeLimit(maxChanges);
  const max = limit - 1;
  // A source cut at its limit is complete only up to its last row: nothing past that is answered now.
  let horizon = Infinity;
  for (const rows of scope.sources) if (rows.length === limit) horizon = Math.min(horizon, rows[rows.length - 1]!.s);
  const merged = scope.sources.flat().sort((a, b) => a.s - b.s);
  const seen = new Set<string>();
  let last = since;
  for (let i = 0; i < merged.length; i++) {
    const e = merged[i]!;
    if (e.s > horizon) {
      out.hasMore = true;
      break;
    }
    last = e.s;
    const id = toObjectId(e.type === 'message' ? 'message' : 'mailbox', e.o);
    const lists = e.type === 'message' ? out.messages : out.folders;
    if (!seen.has(id)) {
      if (e.live) {
        seen.add(id);
        (scope.isNew(e) ? lists.created : lists.updated).push(id);
      } else if (e.o <= since && scope.isGone(e)) {
        // a tombstone of a message moved (it lives on) or of an object made and destroyed
        // within the range is not reported
        seen.add(id);
        lists.destroyed.push(id);
      }
    }
    if (seen.size >= max && (i < merged.length - 1 || horizon !== Infinity)) {
      out.hasMore = true;
      break;
    }
  }
  out.newState = toObjectId('state', out.hasMore ? last : current);
  return out;
}
