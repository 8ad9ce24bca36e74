import type { Store } from '../store/store.js';
import type { EventFilter, EventRecord } from '../store/types.js';
import { EVENT_KINDS, renderEventMessage, type EventKindName } from './kinds.js';

/**
 * Writes numbered events to the store. Rate-limited writes collapse a burst into one record
 * per key and interval whose `count` says how many occurrences it stands for, so a
 * misbehaving client cannot flood the log.
 */
export class EventLog {
  private readonly windows = new Map<string, { until: number; record: Promise<EventRecord> }>();

  constructor(
    private readonly store: Store,
    readonly computer: string,
  ) {}

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
   * that record's count. Returns the record and whether this call created it.
   */
  async writeRateLimited(rateKey: string, intervalMs: number, kind: EventKindName, data: Array<string | number>, user: string | null = null): Promise<{ record: EventRecord; created: boolean }> {
    const now = Date.now();
    const open = this.windows.get(rateKey);
    if (open && open.until > now) {
      const record = await open.record;
      await this.store.incrementEventCount(record.recordId);
      return { record: { ...record, count: record.count + 1 }, created: false };
    }
    // claim the window synchronously so that concurrent refusals cannot write twice
    const record = this.write(kind, data, user);
    this.windows.set(rateKey, { until: now + intervalMs, record });
    if (this.windows.size > 10_000) this.prune(now);
    return { record: await record, created: true };
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (w.until <= now) this.windows.delete(key);
  }

  list(filter: EventFilter = {}): Promise<EventRecord[]> {
    return this.store.listEvents(filter);
  }
}
