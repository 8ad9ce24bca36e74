import { StoreError } from './errors.js';

/**
 * Makes every asynchronous method of a backend class answer failures through `toStoreError`
 * (the backend's own mapping of its driver's errors), so no operation can let a driver error
 * through, including ones added later. Each backend calls it once on its prototype.
 */
export function typedErrorsOnly(proto: object, toStoreError: (err: unknown) => unknown): void {
  for (const name of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, name)!;
    const fn = d.value as unknown;
    if (name === 'constructor' || typeof fn !== 'function' || fn.constructor.name !== 'AsyncFunction') continue;
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
}
