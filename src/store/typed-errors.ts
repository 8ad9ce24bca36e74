import { StoreError } from './errors.js';

/**
 * Makes every asynchronous method of a backend class answer failures through `toStoreError`
 * (the backend's own mapping of its driver's errors), so no operation can let a driver error
 * through, including ones added later. Each backend calls it once on its prototype.
 */
export function typedErrorsOnly(proto: object, toStoreError: (err: unknown) => unknown): void {
  // inherited methods (store-base.ts) are wrapped on the backend's own prototype, with its own mapping
  const seen = new Set<string>();
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (seen.has(name)) continue;
      seen.add(name);
      wrap(proto, name, Object.getOwnPropertyDescriptor(p, name)!, toStoreError);
    }
  }
}

function wrap(proto: object, name: string, d: PropertyDescriptor, toStoreError: (err: unknown) => unknown): void {
  const fn = d.value as unknown;
  if (name === 'constructor' || typeof fn !== 'function' || fn.constructor.name !== 'AsyncFunction') return;
  const method = fn as (...args: unknown[]) => Promise<unknown>;
  Object.defineProperty(proto, name, {
    ...d,
    value: function (this: unknown, ...args: unknown[]) {
      return method.apply(this, args).catch((err: unknown) => {
        throw err instanceof StoreError ? err : toStoreError(err);
      });
    },
  });
}
