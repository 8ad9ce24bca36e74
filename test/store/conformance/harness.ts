/**
 * What a contract file (contracts/*.ts) is given, and how the suite runs one: a fresh store of
 * the backend per contract, wrapped by invariants.ts so that every write re-checks every
 * invariant, closed and removed afterwards. A contract file exports `area` and `contracts`.
 */
import type { Store } from '../../../src/store/store.js';
import { StoreError, type StoreErrorKind } from '../../../src/store/errors.js';
import type { User } from '../../../src/store/types.js';
import type { Backend, OpenBackend } from './backends.js';
import { checked, type Checked } from './invariants.js';
import { sabotageNamed } from './sabotages.js';
import { ManualClock } from '../../../src/shared-state/clock.js';

export interface Fixture {
  backend: Backend;
  /** The checked store: use it for everything. */
  store: Store;
  /** The open backend (raw store, inspector, location): for a second store on the same data. */
  opened: OpenBackend;
  checked: Checked;
  /** The store's clock (StoreOptions.clock: save dates): moved by hand, never the wall clock. */
  clock: ManualClock;
  /** A new user (address made unique when not given). */
  user(address?: string): Promise<User>;
}

export interface Contract {
  name: string;
  run(f: Fixture): Promise<void>;
  /**
   * Known to fail on main today: reported as TODO (the suite stays green) with the reason.
   * Remove it when the store is fixed; the test then must pass.
   */
  todo?: string;
}

export interface ContractFile {
  area: string;
  contracts: Contract[];
}

let seq = 0;

export async function runContract(backend: Backend, contract: Contract): Promise<void> {
  const { location, remove } = await backend.create();
  const clock = new ManualClock();
  const opened = await backend.open(location, { clock });
  try {
    // sabotage.test.ts runs the whole suite once with an invariant broken on purpose: it must fail
    const sabotage = process.env.CONFORMANCE_SABOTAGE;
    if (sabotage) await opened.inspector.exec(sabotageNamed(backend.name, sabotage).sql);
    const c = await checked(opened);
    await contract.run({
      backend, store: c.store, opened, checked: c, clock,
      user: (address) => c.store.createUser({ address: address ?? `user${++seq}@conformance.test`, password: 'pw' }),
    });
  } finally {
    await opened.close();
    await remove();
  }
}

/** A small distinct message. */
export const msg = (subject: string, body = `body of ${subject}`): Buffer =>
  Buffer.from(`From: sender@example.org\r\nTo: rcpt@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}.${++seq}@conformance.test>\r\n\r\n${body}\r\n`);

/** Asserts `p` rejects with a StoreError of one of `kinds` (a raw driver error fails). */
export async function rejectsWith(p: Promise<unknown>, ...kinds: StoreErrorKind[]): Promise<StoreError> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof StoreError)) throw new Error(`expected a StoreError (${kinds.join(' or ')}), got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    if (!kinds.includes(err.kind)) throw new Error(`expected a StoreError of kind ${kinds.join(' or ')}, got ${err.kind}: ${err.message}`);
    return err;
  }
  throw new Error(`expected a StoreError (${kinds.join(' or ')}), the call succeeded`);
}

/** Settles all, then: the outcomes' successes and StoreErrors; any other rejection is rethrown. */
export async function settleTyped<T>(ps: Array<Promise<T>>): Promise<{ ok: T[]; errors: StoreError[] }> {
  const out = await Promise.allSettled(ps);
  const ok: T[] = [];
  const errors: StoreError[] = [];
  for (const r of out) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else if (r.reason instanceof StoreError) errors.push(r.reason);
    else throw new Error(`a concurrent call failed with an untyped error: ${(r.reason as Error)?.name}: ${(r.reason as Error)?.message}`);
  }
  return { ok, errors };
}
