/** GetItemEstimate (MS-ASCMD 2.2.1.9): how many changes the next Sync of each collection would bring. */
import type { EasAnswer, EasCall } from '../call.js';
import { folderOf } from '../folders.js';
import { child, childText, children, el } from '../wbxml/codec.js';
import { pendingCount } from './sync.js';

export async function getItemEstimate(call: EasCall): Promise<EasAnswer> {
  const responses = [];
  for (const c of children(child(call.body ?? undefined, 'Collections'), 'Collection')) {
    const id = childText(c, 'CollectionId', 'GetItemEstimate') ?? childText(c, 'CollectionId') ?? '';
    const folder = await folderOf(call.ctx.store, call.user.id, id);
    const n = folder ? await pendingCount(call, folder, id) : null;
    // 2: no such collection; 3: the collection was never synced (SyncKey 0 first)
    const status = !folder ? 2 : n === null ? 3 : 1;
    responses.push(el('GetItemEstimate', 'Response', [
      el('GetItemEstimate', 'Status', String(status)),
      el('GetItemEstimate', 'Collection', [el('GetItemEstimate', 'CollectionId', id), status === 1 ? el('GetItemEstimate', 'Estimate', String(n)) : null]),
    ]));
  }
  return { wbxml: el('GetItemEstimate', 'GetItemEstimate', responses) };
}
