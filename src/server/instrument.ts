import { performance } from 'node:perf_hooks';
import type { Store } from '../store/store.js';
import type { SessionGovernor } from '../governor/governor.js';
import type { ConnectionLimits } from '../access/connection-limits.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * The store as every layer above sees it, with each method call timed into
 * mailwarden_store_operation_duration_seconds. Done here, around the store, so that the store
 * knows nothing of metrics and any backend (and any method added later) is measured the same way.
 */
export function instrumentStore<S extends Store>(store: S, metrics: Metrics): S {
  // one wrapper per method function (not per name): a method replaced on the store later is wrapped afresh
  const wrapped = new WeakMap<(...args: unknown[]) => unknown, (...args: unknown[]) => unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'constructor') return value;
      const method = value as (...args: unknown[]) => unknown;
      let fn = wrapped.get(method);
      if (!fn) {
        // performance.now(), not hrtime.bigint(): no BigInt per reading (every store call, several per IMAP command)
        const seconds = (start: number) => (performance.now() - start) / 1000;
        fn = (...args: unknown[]) => {
          const start = performance.now();
          let result: unknown;
          try {
            // called on the store itself, not the proxy: private fields need the real `this`
            result = method.apply(target, args);
          } catch (err) {
            metrics.observeStoreOperation(prop, false, seconds(start));
            throw err;
          }
          if (result instanceof Promise) {
            // observed on a branch of the promise; the caller still gets (and handles) the original
            result.then(() => metrics.observeStoreOperation(prop, true, seconds(start)), () => metrics.observeStoreOperation(prop, false, seconds(start)));
          } else {
            metrics.observeStoreOperation(prop, true, seconds(start));
          }
          return result;
        };
        wrapped.set(method, fn);
      }
      return fn;
    },
  });
}

/** The counts the governor and the connection limits keep themselves, read at each scrape (names as before prom-client). */
export function exposeGovernorReadings(metrics: Metrics, governor: SessionGovernor, connections: { pop: ConnectionLimits; imap: ConnectionLimits }): void {
  metrics.exposeReading('gauge', 'mailwarden_sessions_open', 'Store sessions open on this node, by kind.', 'kind', async () => {
    const open: Record<string, number> = {};
    for (const s of await governor.list()) if (s.node === governor.node) open[s.kind] = (open[s.kind] ?? 0) + 1;
    return open;
  });
  metrics.exposeReading('counter', 'mailwarden_sessions_opened_total', 'Store sessions opened, by kind.', 'kind', () => ({ ...governor.metrics.opened }));
  metrics.exposeReading('counter', 'mailwarden_session_refusals_total', 'Store session refusals (event 9646), by kind.', 'kind', () => ({ ...governor.metrics.refused }));
  metrics.exposeReading('counter', 'mailwarden_session_reclaims_total', 'Idle sessions ended to admit a logon at the limit (event 9648), by kind.', 'kind', () => ({ ...governor.metrics.reclaimed }));
  metrics.exposeReading('counter', 'mailwarden_object_refusals_total', 'Per-session object limit refusals, by object type.', 'type', () => ({ ...governor.metrics.objectRefusals }));
  metrics.exposeReading('gauge', 'mailwarden_connections', 'Protocol connections open.', 'protocol', () => ({
    pop3: connections.pop.connections, imap: connections.imap.connections,
  }));
}
