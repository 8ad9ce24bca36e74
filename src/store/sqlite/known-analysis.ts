/**
 * The analysis of a message's bytes (analyse.ts: hash, MIME structure, list and sort facts) when
 * the thread that sends them to the store thread has made it already (threaded-store.ts does,
 * for small messages): the store thread then only writes. It is the one thread every write
 * of the node waits for, and the inbound mix showed it the busiest resource, a third of its time
 * spent analysing (~0.2 ms a message, serial before each group commit).
 * Kept by Buffer identity, so a Buffer the store thread gets without one is analysed there.
 */
import { analyseMessage } from '../analyse.js';
import { toStoredAnalysis, type StoredAnalysis } from './message-writes.js';

const known = new WeakMap<Uint8Array, StoredAnalysis>();

/** Records that `analysis` describes `raw` (made by this process, from these same bytes). */
export function rememberAnalysis(raw: Uint8Array, analysis: StoredAnalysis): void {
  known.set(raw, analysis);
}

/** The analysis of `raw`: the one sent with it, or made now. */
export function storedAnalysisOf(raw: Buffer): StoredAnalysis {
  return known.get(raw) ?? toStoredAnalysis(analyseMessage(raw));
}
