/**
 * ItemOperations (MS-ASCMD 2.2.1.10): Fetch of a whole message (CollectionId + ServerId, its body
 * in the preferred type) or of an attachment (FileReference, its bytes base64 in Data), and
 * EmptyFolderContents. Every object is looked up for the logged-on user only.
 */
import type { EasAnswer, EasCall } from '../call.js';
import { folderOf } from '../folders.js';
import { applicationData, attachmentOf, bodyPreferenceOf, DEFAULT_BODY_PREFERENCE, parseFileReference } from '../mail-item.js';
import { child, childText, children, el, type WbxmlElement } from '../wbxml/codec.js';

export async function itemOperations(call: EasCall): Promise<EasAnswer> {
  const responses: WbxmlElement[] = [];
  const store = call.ctx.store;
  for (const op of children(call.body ?? undefined)) {
    if (op.tag === 'Fetch') {
      const fileRef = childText(op, 'FileReference', 'AirSyncBase');
      const out = (status: number, extra: WbxmlElement[] = []) => el('ItemOperations', 'Fetch', [el('ItemOperations', 'Status', String(status)), ...extra]);
      if (fileRef !== undefined) {
        const ref = parseFileReference(fileRef);
        const m = ref ? await store.getMessage(call.user.id, ref.objectId) : null;
        const a = m && ref ? await call.session.withObject('objtMessage', async () => attachmentOf(await store.readBlob(m.blobHash), ref.index)) : null;
        if (!a) responses.push(out(15, [el('AirSyncBase', 'FileReference', fileRef)]));
        else {
          responses.push(out(1, [el('AirSyncBase', 'FileReference', fileRef), el('ItemOperations', 'Properties', [
            el('AirSyncBase', 'ContentType', a.contentType), el('ItemOperations', 'Data', a.content.toString('base64')),
          ])]));
        }
        continue;
      }
      const collectionId = childText(op, 'CollectionId', 'AirSync');
      const serverId = childText(op, 'ServerId', 'AirSync') ?? '';
      const folder = await folderOf(store, call.user.id, collectionId);
      const m = folder ? await store.getMessage(call.user.id, serverId) : null;
      if (!folder || !m || m.folderId !== folder.id) {
        responses.push(out(6, [el('AirSync', 'CollectionId', collectionId ?? ''), el('AirSync', 'ServerId', serverId)]));
        continue;
      }
      const pref = bodyPreferenceOf(child(op, 'Options')) ?? { ...DEFAULT_BODY_PREFERENCE, truncationSize: null };
      const props = await call.session.withObject('objtMessage', async () =>
        applicationData({ objectId: m.objectId, raw: await store.readBlob(m.blobHash), flags: m.flags, internalDate: m.internalDate }, pref, 'Properties', 'ItemOperations'));
      responses.push(out(1, [el('AirSync', 'CollectionId', collectionId!), el('AirSync', 'ServerId', serverId), el('AirSync', 'Class', 'Email'), props]));
    } else if (op.tag === 'EmptyFolderContents') {
      const collectionId = childText(op, 'CollectionId', 'AirSync');
      const folder = await folderOf(store, call.user.id, collectionId);
      if (!folder) {
        responses.push(el('ItemOperations', 'EmptyFolderContents', [el('ItemOperations', 'Status', '6'), el('AirSync', 'CollectionId', collectionId ?? '')]));
        continue;
      }
      const index = await store.listMessageIndex(call.user.id, folder.id);
      await store.removeMessages(call.user.id, folder.id, [...index.uids]);
      responses.push(el('ItemOperations', 'EmptyFolderContents', [el('ItemOperations', 'Status', '1'), el('AirSync', 'CollectionId', collectionId!)]));
    } else {
      responses.push(el('ItemOperations', op.tag === 'Move' ? 'Move' : 'Fetch', [el('ItemOperations', 'Status', '2')]));
    }
  }
  return { wbxml: el('ItemOperations', 'ItemOperations', [el('ItemOperations', 'Status', '1'), el('ItemOperations', 'Response', responses)]) };
}
