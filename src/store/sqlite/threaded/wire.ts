/**
 * What crosses between the main thread and the store thread (store-worker.ts). Values go by
 * structured clone, which keeps Dates, Maps and typed arrays but turns a Buffer into a plain
 * Uint8Array: the side that sends a value names where its Buffers are, and the receiver makes
 * them Buffers again (a view, no copy), so neither side walks big results it did not build.
 */
import type { StoreChange } from '../../change-bus.js';
import type { WireError } from '../write-ops.js';
import type { StoredAnalysis } from '../message-writes.js';
import { isHandedOver } from '../../hand-over.js';

/** A Buffer's place in a value: keys from the top (an argument index, a property, an array index). */
export type BufferPath = Array<string | number>;

export type ToStoreThread =
  /** `analyses[i]`: the analysis of the message bytes at `buffers[i]`, when the caller's thread made it (known-analysis.ts). */
  | { id: number; method: string; args: unknown[]; buffers: BufferPath[]; analyses?: Array<StoredAnalysis | null> }
  /** A full garbage collection of the thread's heap (process started with --expose-gc), answered as a call. */
  | { id: number; collectGarbage: true }
  | { close: true }
  /** Several calls, in order: those the main thread made in one turn of its loop. */
  | { batch: ToStoreThread[] };

export type FromStoreThread =
  | { opened: string[] }
  | { openError: WireError }
  | { change: StoreChange }
  /** A failure of the store's own timers (pruning), for the main thread's log. */
  | { backgroundError: { what: string; error: WireError } }
  /** `coded`: the value is in the method's compact form (codecs.ts). */
  | { id: number; ok: true; value: unknown; buffers: BufferPath[]; coded?: true }
  | { id: number; ok: false; error: WireError }
  | { closed: true }
  /** Several of the above, in order (the store thread sends what one turn of its loop produced together). */
  | { batch: FromStoreThread[] };

/** How deep Buffers are looked for: a result such as [{ uid, raw }] has its bytes at depth 2. */
const MAX_DEPTH = 3;

/** A Buffer that is the only view of its whole memory (not a slice of Node's pool or of a bigger buffer). */
const ownsItsMemory = (b: Buffer): boolean => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer;

/**
 * Finds the Buffers in `value` (to MAX_DEPTH) and, in `transfer`, the memory of those that own
 * all of theirs: moved to the other thread rather than copied. A Buffer that is a slice of a
 * larger one (Node's pool for small ones) is copied, since moving would take its neighbours.
 */
export function findBuffers(value: unknown, transfer: Set<ArrayBuffer> | null, path: BufferPath = [], out: BufferPath[] = []): BufferPath[] {
  if (Buffer.isBuffer(value)) {
    out.push(path);
    if (transfer && ownsItsMemory(value)) transfer.add(value.buffer as ArrayBuffer);
    return out;
  }
  if (path.length >= MAX_DEPTH || value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return out;
  if (Array.isArray(value)) {
    // The store's arrays hold items of one shape: when the first has no Buffer, none has (a
    // 100,000-message listing is not walked item by item).
    if (value.length === 0) return out;
    const before = out.length;
    findBuffers(value[0], transfer, [...path, 0], out);
    if (out.length === before) return out;
    for (let i = 1; i < value.length; i++) findBuffers(value[i], transfer, [...path, i], out);
    return out;
  }
  if (value instanceof Map || value instanceof Date) return out;
  for (const [k, v] of Object.entries(value)) findBuffers(v, transfer, [...path, k], out);
  return out;
}

/**
 * The memory of the Buffers at `paths` (findBuffers) that the caller handed over
 * (store/hand-over.ts) and that own all of it: moved with the call rather than copied.
 */
export function movableBuffers(value: unknown, paths: BufferPath[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const path of paths) {
    const buf = at(value, path) as Buffer;
    if (isHandedOver(buf) && ownsItsMemory(buf)) out.add(buf.buffer as ArrayBuffer);
  }
  return [...out];
}

/** The value at `path` in `value`. */
export function at(value: unknown, path: BufferPath): unknown {
  let v = value as Record<string | number, unknown>;
  for (const key of path) v = v[key] as Record<string | number, unknown>;
  return v;
}

/** Makes the Uint8Arrays at `paths` Buffers again (views on the same memory). */
export function restoreBuffers<T>(value: T, paths: BufferPath[]): T {
  let root = value as unknown;
  for (const path of paths) {
    if (path.length === 0) {
      root = asBuffer(root as Uint8Array);
      continue;
    }
    let parent = root as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    parent[last] = asBuffer(parent[last] as Uint8Array);
  }
  return root as T;
}

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
