import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { mailboxQuotaLimit } from '../../src/settings/resolve.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Runs `fn` on a fresh SQLite store in a temporary folder, removed afterwards. The quota rule
 * comes from settings/, as the composition root passes it in. `groupCommit: 'this-thread'`: as
 * on the store thread (the store commits its writes in groups itself).
 */
export async function withStore(fn: (store: SqliteStore, file: string) => Promise<void>, groupCommit?: 'this-thread'): Promise<void> {
  const tmp = tempDir();
  const file = join(tmp.dir, 'store.sqlite');
  const store = await SqliteStore.open(file, { quotaLimit: mailboxQuotaLimit, groupCommit });
  try {
    await fn(store, file);
  } finally {
    await store.close();
    tmp.cleanup();
  }
}
