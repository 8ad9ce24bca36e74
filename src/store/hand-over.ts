/**
 * Buffers a caller gives to the store and never reads again (the bytes of a delivery, built for
 * that one call). A store whose SQLite work runs on another thread (sqlite/threaded) moves such
 * a buffer's memory to that thread instead of copying it twice (serialised on the caller's
 * thread, deserialised on the store's): for the inbound mix that was two copies of every message
 * and the allocations behind them, on the event loop and on the store thread, which are what
 * drive their garbage collections. Other stores ignore the mark. After the call the caller's
 * Buffer may read as empty (its memory moved).
 */
const handedOver = new WeakSet<Uint8Array>();

/** Marks `buf` as the store's once passed to it; returns it. */
export function handOver<T extends Uint8Array>(buf: T): T {
  handedOver.add(buf);
  return buf;
}

/** Whether the caller gave `buf` away (handOver). */
export const isHandedOver = (buf: Uint8Array): boolean => handedOver.has(buf);
