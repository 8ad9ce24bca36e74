import type { Store } from '../../store/store.js';
import type { MessageSummary } from '../../store/types.js';

/**
 * The POP3 maildrop: a snapshot of the Inbox taken at logon (RFC 1939 §4: message numbers
 * are fixed for the session). Deletions are only marked until QUIT commits them.
 */
export class Maildrop {
  private readonly deleted = new Set<number>();

  private constructor(
    private readonly store: Store,
    private readonly userId: number,
    readonly folderId: number,
    readonly uidValidity: number,
    private readonly messages: MessageSummary[],
  ) {}

  static async open(store: Store, userId: number): Promise<Maildrop> {
    const inbox = await store.getSpecialFolder(userId, '\\Inbox');
    const messages = await store.listMessages(userId, inbox.id);
    return new Maildrop(store, userId, inbox.id, inbox.uidValidity, messages);
  }

  /** 1-based message number → message, or undefined when out of range or marked deleted. */
  get(n: number): MessageSummary | undefined {
    if (!Number.isInteger(n) || n < 1 || n > this.messages.length) return undefined;
    const m = this.messages[n - 1];
    return this.deleted.has(m.uid) ? undefined : m;
  }

  exists(n: number): boolean {
    return Number.isInteger(n) && n >= 1 && n <= this.messages.length;
  }

  isDeleted(n: number): boolean {
    return this.exists(n) && this.deleted.has(this.messages[n - 1].uid);
  }

  markDeleted(n: number): void {
    this.deleted.add(this.messages[n - 1].uid);
  }

  reset(): void {
    this.deleted.clear();
  }

  /** Live (not deleted) messages with their numbers. */
  *live(): Generator<[number, MessageSummary]> {
    for (let i = 0; i < this.messages.length; i++) {
      if (!this.deleted.has(this.messages[i].uid)) yield [i + 1, this.messages[i]];
    }
  }

  stat(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    for (const [, m] of this.live()) {
      count++;
      size += m.size;
    }
    return { count, size };
  }

  /** Stable across sessions as long as UIDVALIDITY holds (RFC 1939 UIDL: 1–70 printable chars). */
  uniqueId(m: MessageSummary): string {
    return `${this.uidValidity}.${m.uid}`;
  }

  read(m: MessageSummary): Promise<Buffer> {
    return this.store.readBlob(m.blobHash);
  }

  /** The UPDATE state: removes what was marked. Returns how many were removed. */
  async commit(): Promise<number> {
    if (this.deleted.size === 0) return 0;
    const uids = [...this.deleted];
    const removed = await this.store.removeMessages(this.userId, this.folderId, uids);
    this.deleted.clear();
    return removed.length;
  }
}
