/**
 * Search (MS-ASCMD 2.2.1.16) of the Mailbox store: FreeText in one folder (CollectionId in the
 * query) or in the Inbox, newest first, the Range the device asks for (at most 100 results).
 * The store's message-list search matches header facts and the bytes.
 */
import type { EasAnswer, EasCall } from '../call.js';
import { folderOf } from '../folders.js';
import { applicationData, bodyPreferenceOf, DEFAULT_BODY_PREFERENCE } from '../mail-item.js';
import { child, childText, el, type WbxmlElement } from '../wbxml/codec.js';

function find(e: WbxmlElement | undefined, tag: string): WbxmlElement | undefined {
  if (!e) return undefined;
  for (const c of e.children) {
    if (typeof c !== 'object' || Buffer.isBuffer(c)) continue;
    if (c.tag === tag) return c;
    const deeper = find(c, tag);
    if (deeper) return deeper;
  }
  return undefined;
}

export async function search(call: EasCall): Promise<EasAnswer> {
  const store = child(call.body ?? undefined, 'Store');
  const out = (storeStatus: number, extra: WbxmlElement[] = []) => ({ wbxml: el('Search', 'Search', [el('Search', 'Status', '1'), el('Search', 'Response', [el('Search', 'Store', [el('Search', 'Status', String(storeStatus)), ...extra])])]) });
  if (childText(store, 'Name') !== 'Mailbox') return out(3);
  const query = child(store, 'Query');
  const words = (find(query, 'FreeText') ? childText(find(query, 'And') ?? query, 'FreeText') ?? find(query, 'FreeText')!.children.join('') : '').trim();
  if (!words || words.length > 200) return out(2);
  const collectionId = find(query, 'CollectionId')?.children.join('');
  const folder = collectionId ? await folderOf(call.ctx.store, call.user.id, collectionId) : await call.ctx.store.getSpecialFolder(call.user.id, '\\Inbox');
  if (!folder) return out(2);
  const range = /^(\d{1,4})-(\d{1,4})$/.exec(childText(child(store, 'Options'), 'Range') ?? '0-99');
  const first = range ? Number(range[1]) : 0;
  const last = range ? Math.min(Number(range[2]), first + 99) : 99;
  if (last < first) return out(2);
  const page = await call.ctx.store.listMessagePage(call.user.id, folder.id, first, last - first + 1, words);
  const pref = bodyPreferenceOf(child(store, 'Options')) ?? DEFAULT_BODY_PREFERENCE;
  const results: WbxmlElement[] = [];
  for (const m of page.items) {
    const raw = await call.ctx.store.readBlob(m.blobHash);
    results.push(el('Search', 'Result', [
      el('AirSync', 'Class', 'Email'), el('Search', 'LongId', m.objectId), el('AirSync', 'CollectionId', folder.mailboxId),
      await applicationData({ objectId: m.objectId, raw, flags: m.flags, internalDate: m.internalDate }, pref, 'Properties', 'Search'),
    ]));
  }
  if (!results.length) results.push(el('Search', 'Result'));
  return out(1, [...results, el('Search', 'Range', `${first}-${first + Math.max(0, page.items.length - 1)}`), el('Search', 'Total', String(page.total))]);
}
