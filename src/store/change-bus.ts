/**
 * Change notification: the store publishes what it committed, sessions that watch a mailbox
 * (IMAP IDLE and the selected state, web mail push, the web mail page cache) subscribe. Its own
 * interface rather than a listener list inside the store, so that a cluster can carry it between
 * nodes (the Redis implementation of the cluster issue) while the store stays the truth: a
 * notification only says "look again", never what to show.
 *
 * Every implementation passes test/store/change-bus-contract.ts.
 */

/** What a change looked like: enough for a watcher to decide whether to look again. */
export interface StoreChange {
  userId: number;
  folderId: number;
  /** 'folders': the folder was created, renamed or deleted. */
  kind: 'append' | 'flags' | 'expunge' | 'folders';
  /** The folder's HIGHESTMODSEQ after the change (0 for 'folders'). */
  modseq: number;
}

export type ChangeListener = (change: StoreChange) => void;
export type Unsubscribe = () => void;

export interface ChangeBus {
  /**
   * Tells the change to every subscriber of its user and of its folder, on every node; called by
   * the store after the change committed. Listeners of one publisher hear its changes in the
   * order published. A failing listener does not stop the others, nor fail the publisher.
   */
  publish(change: StoreChange): void;
  /** Every change of the user's folders and messages (web mail push, caches). */
  subscribeUser(userId: number, listener: ChangeListener): Unsubscribe;
  /** The changes of one folder (an IMAP session's selected mailbox), including its deletion. */
  subscribeFolder(userId: number, folderId: number, listener: ChangeListener): Unsubscribe;
  close(): Promise<void>;
}

/**
 * This process only. Subscribers are kept per user and per folder, so that a delivery wakes the
 * sessions watching that folder and no other: with 10,000 IDLE connections over 100 users a
 * change costs its ~100 watchers, not a scan of 10,000 listeners.
 */
export class InProcessChangeBus implements ChangeBus {
  private readonly byUser = new Map<number, Set<ChangeListener>>();
  private readonly byFolder = new Map<number, Set<ChangeListener>>();

  /** `onListenerError`: where a failing listener is reported (the server passes its log; the store knows no logger). */
  constructor(private readonly onListenerError: (err: unknown) => void = (err) => console.error('store change listener failed:', err)) {}

  publish(change: StoreChange): void {
    const folder = this.byFolder.get(change.folderId);
    if (folder) notify(folder, change, this.onListenerError);
    const user = this.byUser.get(change.userId);
    if (user) notify(user, change, this.onListenerError);
  }

  subscribeUser(userId: number, listener: ChangeListener): Unsubscribe {
    return add(this.byUser, userId, listener);
  }

  subscribeFolder(userId: number, folderId: number, listener: ChangeListener): Unsubscribe {
    // folder ids are unique across users; the user is checked at delivery all the same
    return add(this.byFolder, folderId, (c) => {
      if (c.userId === userId) listener(c);
    });
  }

  /** How many subscriptions are open (diagnostics and tests: a session that ends leaves none behind). */
  get subscriptions(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    for (const set of this.byFolder.values()) n += set.size;
    return n;
  }

  async close(): Promise<void> {
    this.byUser.clear();
    this.byFolder.clear();
  }
}

/**
 * A wrapper per subscription, so that subscribing one function twice needs two unsubscribes
 * (as with an EventEmitter); a Set, so that one of 10,000 leaves in O(1).
 */
function add(map: Map<number, Set<ChangeListener>>, key: number, listener: ChangeListener): Unsubscribe {
  const entry: ChangeListener = (c) => listener(c);
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(entry);
  return () => {
    const s = map.get(key);
    if (!s?.delete(entry)) return;
    if (s.size === 0) map.delete(key);
  };
}

function notify(listeners: Set<ChangeListener>, change: StoreChange, onError: (err: unknown) => void): void {
  for (const listener of listeners) {
    try {
      listener(change);
    } catch (err) {
      // the change is committed: a failing listener must not make the write look failed
      onError(err);
    }
  }
}
