import { createHash } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Folder } from '../store/types.js';
import { WELL_KNOWN_NAMES, type SourceFolder, type SourceMessage } from './source.js';

/**
 * Copies source folders into a user's mailbox: folders made as needed (the source's Sent,
 * Trash, Junk and Drafts go to the mailbox's own special-use folders, so clients keep one of
 * each), flags and internal dates kept, messages appended in batches (Store.appendMany: a
 * batch is stored whole or not at all). A message whose exact bytes the target folder holds
 * already is skipped: running an import again copies nothing twice, and an interrupted one
 * carries on where it stopped.
 */
export interface FolderReport {
  source: string;
  target: string;
  imported: number;
  skipped: number;
}

export interface ImportProgress {
  (report: FolderReport & { done: boolean; total?: number }): void;
}

const BATCH_MESSAGES = 200;
const BATCH_BYTES = 16 * 1024 * 1024;

async function targetFolder(store: Store, userId: number, name: string, keepNames: boolean): Promise<Folder> {
  if (name.toUpperCase() === 'INBOX') return (await store.getFolder(userId, 'INBOX'))!;
  const use = keepNames ? undefined : WELL_KNOWN_NAMES[name.toLowerCase()];
  if (use) return store.getSpecialFolder(userId, use);
  return (await store.getFolder(userId, name)) ?? store.createFolder(userId, name);
}

export async function importFolders(
  store: Store, userId: number, folders: Iterable<SourceFolder> | AsyncIterable<SourceFolder>,
  opts: { keepNames?: boolean; progress?: ImportProgress } = {},
): Promise<FolderReport[]> {
  const reports: FolderReport[] = [];
  for await (const source of folders) {
    const folder = await targetFolder(store, userId, source.name, opts.keepNames ?? false);
    if (source.subscribed) await store.setSubscribed(userId, folder.name, true);
    const have = new Set((await store.listMessages(userId, folder.id)).map((m) => m.blobHash));
    const report: FolderReport = { source: source.name, target: folder.name, imported: 0, skipped: 0 };
    let batch: SourceMessage[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await store.appendMany(userId, folder.id, batch.map((m) => ({ raw: m.raw, flags: m.flags, internalDate: m.internalDate })));
      report.imported += batch.length;
      batch = [];
      batchBytes = 0;
      opts.progress?.({ ...report, done: false, total: source.count });
    };
    for await (const m of source.messages()) {
      const hash = createHash('sha256').update(m.raw).digest('hex');
      if (have.has(hash)) {
        report.skipped++;
        continue;
      }
      have.add(hash);
      batch.push(m);
      batchBytes += m.raw.length;
      if (batch.length >= BATCH_MESSAGES || batchBytes >= BATCH_BYTES) await flush();
    }
    await flush();
    opts.progress?.({ ...report, done: true, total: source.count });
    reports.push(report);
  }
  return reports;
}
