import type { Store } from '../store/store.js';
import type { EventFilter, EventRecord } from '../store/types.js';
import type { SharedState } from '../shared-state/shared-state.js';
import { InProcessState } from '../shared-state/in-process-state.js';
import { systemClock, type Clock } from '../shared-state/clock.js';
import { EVENT_KINDS, renderEventMessage, type EventKindName } from './kinds.js';

/** A window whose record is being written: the claim, before the record ID is known. */
const PENDING = 'pending';
/** How long to wait for another node to finish writing the record of a window it claimed. */
const PENDING_RETRY_MS = 10;
const PENDING_RETRIES = 200;

/**
 * Writes numbered events to the store. Rate-limited writes collapse a burst into one record
 * per key and interval whose `count` says how many occurrences it stands for, so a
 * misbehaving client cannot flood the log. The windows live in the shared state (key
 * `event-window:KEY`, expiring with the window), so that the nodes of a cluster share them
 * and a test moves time with a manual clock.
 */
export class EventLog {
  private readonly state: SharedState;
  /** Records this node is writing for windows it claimed (the others in the burst wait for them). */
  private readonly writing = new Map<string, Promise<EventRecord>>();

  constructor(
    private readonly store: Store,
    readonly computer: string,
    opts: { state?: SharedState; clock?: Clock } = {},
  ) {
    this.state = opts.state ?? new InProcessState(opts.clock ?? systemClock);
  }

  write(kind: EventKindName, data: Array<string | number>, user: string | null = null): Promise<EventRecord> {
    const k = EVENT_KINDS[kind];
    const items = data.map(String);
    return this.store.appendEvent({
      time: new Date(), provider: k.provider, eventId: k.eventId, qualifiers: k.qualifiers, level: k.level,
      task: k.task, keywords: k.keywords, computer: this.computer, user, data: items, message: renderEventMessage(k, items),
    });
  }

  /**
   * At most one record per `rateKey` per `intervalMs`; later occurrences in the window raise
   * that record's count. Returns the record's ID and whether this call created it.
   */
  async writeRateLimited(rateKey: string, intervalMs: number, kind: EventKindName, data: Array<string | number>, user: string | null = null): Promise<{ recordId: number; created: boolean }> {
    const key = `event-window:${rateKey}`;
    for (let attempt = 0; attempt < PENDING_RETRIES; attempt++) {
      // the first occurrence claims the window atomically, so concurrent ones cannot write twice
      if (await this.state.setIfAbsent(key, PENDING, { ttlMs: intervalMs })) {
        const written = this.write(kind, data, user);
        this.writing.set(key, written);
        try {
          const record = await written;
          await this.state.compareAndSet(key, PENDING, String(record.recordId), { keepTtl: true });
          return { recordId: record.recordId, created: true };
        } catch (err) {
          await this.state.compareAndSet(key, PENDING, null); // the next occurrence tries again
          throw err;
        } finally {
          this.writing.delete(key);
        }
      }
      const value = await this.state.get(key);
      if (value === null) continue; // the window ended meanwhile
      let recordId: number;
      if (value === PENDING) {
        const mine = this.writing.get(key);
        if (!mine) {
          await new Promise((r) => setTimeout(r, PENDING_RETRY_MS)); // another node is writing it
          continue;
        }
        recordId = (await mine.catch(() => null))?.recordId ?? NaN;
        if (Number.isNaN(recordId)) continue;
      } else {
        recordId = Number(value);
      }
      await this.store.incrementEventCount(recordId);
      return { recordId, created: false };
    }
    throw new Error(`event window ${rateKey}: the record was not written in time`);
  }

  list(filter: EventFilter = {}): Promise<EventRecord[]> {
    return this.store.listEvents(filter);
  }
}
