/**
 * What every backend's Store does the same way above its SQL, written once: createUser's checks,
 * and the operations defined through others (a single append is appendMany of one, a delivery
 * with or without a queue entry is one delivery write, copy and move are one copy-or-move).
 * Each backend supplies the reads and writes (its SQL, its transactions) and inherits these.
 * Their failures are typed: typedErrorsOnly wraps inherited methods on each backend's prototype too.
 */
import { hashPassword } from '../util/password.js';
import { StoreError } from './errors.js';
import { checkPassword, DEFAULT_DATABASE, normaliseAddress } from './rules.js';
import type { AppendOptions, Delivery, DeliveryOptions, NewMessage, NewQueueEntry, NewUser, StoreChange } from './store.js';
import type { AppendResult, MailboxDatabase, User } from './types.js';

/** What a copy or move answers (Store.copyMessages, Store.moveMessages). */
export interface CopyResult { uidValidity: number; pairs: Array<[number, number]> }

export abstract class StoreBase {
  abstract findDatabase(name: string): Promise<MailboxDatabase | null>;
  abstract findUser(identity: string): Promise<User | null>;
  abstract appendMany(userId: number, folderId: number, messages: NewMessage[]): Promise<AppendResult[]>;

  /** One delivery to each of `userIds` (their folder of `opts.specialUse`, Inbox by default), and `entry` queued in the same write. */
  protected abstract deliverWrite(userIds: number[], raw: Buffer, opts: DeliveryOptions, entry?: NewQueueEntry): Promise<Delivery & { queueId: number | null }>;

  /** Copies `uids` (move: and removes them from the source) in one write. */
  /** Publishes a committed change (on the store's ChangeBus). */
  protected abstract emit(change: StoreChange): void;

  protected abstract copyOrMove(userId: number, fromFolderId: number, uids: number[], toFolderId: number, move: boolean): CopyResult | Promise<CopyResult>;

  /**
   * createUser's checks before its write (the address and password rules, the mailbox database
   * exists, the address is free) and the password's hash. A concurrent createUser of the same
   * address passes them too: the backend's unique index answers `exists` then.
   */
  protected async checkNewUser(nu: NewUser): Promise<{ address: string; database: MailboxDatabase; hash: string }> {
    const address = normaliseAddress(nu.address);
    checkPassword(nu.password);
    const dbName = nu.database ?? DEFAULT_DATABASE;
    const database = await this.findDatabase(dbName);
    if (!database) throw new StoreError('not-found', `no mailbox database named "${dbName}"`);
    if (await this.findUser(address)) throw new StoreError('exists', `a mailbox for ${address} exists already`);
    return { address, database, hash: await hashPassword(nu.password) };
  }

  async append(userId: number, folderId: number, raw: Buffer, opts: AppendOptions = {}): Promise<AppendResult> {
    return (await this.appendMany(userId, folderId, [{ raw, ...opts }]))[0]!;
  }

  async deliver(userIds: number[], raw: Buffer, opts: DeliveryOptions = {}): Promise<Delivery> {
    const out = await this.deliverWrite(userIds, raw, opts);
    return { delivered: out.delivered, overQuota: out.overQuota };
  }

  async deliverAndEnqueue(userIds: number[], raw: Buffer, entry: NewQueueEntry): Promise<Delivery & { queueId: number }> {
    const out = await this.deliverWrite(userIds, raw, {}, entry);
    return { delivered: out.delivered, overQuota: out.overQuota, queueId: out.queueId! };
  }

  async copyMessages(userId: number, fromFolderId: number, uids: number[], toFolderId: number): Promise<CopyResult> {
    return this.copyOrMove(userId, fromFolderId, uids, toFolderId, false);
  }

  async moveMessages(userId: number, fromFolderId: number, uids: number[], toFolderId: number): Promise<CopyResult> {
    return this.copyOrMove(userId, fromFolderId, uids, toFolderId, true);
  }

  /** After a copy or move committed: its changes published (messages added to one folder, removed from the other), its answer. */
  protected announceCopy(userId: number, fromFolderId: number, toFolderId: number, move: boolean, out: CopyResult & { lastModseq: number; expungeModseq: number }): CopyResult {
    if (out.pairs.length) {
      this.emit({ userId, folderId: toFolderId, kind: 'append', modseq: out.lastModseq });
      if (move) this.emit({ userId, folderId: fromFolderId, kind: 'expunge', modseq: out.expungeModseq });
    }
    return { uidValidity: out.uidValidity, pairs: out.pairs };
  }
}
