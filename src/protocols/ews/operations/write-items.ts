/**
 * Changing items: UpdateItem (IsRead, Flag, categories), DeleteItem, MoveItem, CopyItem,
 * MarkAllItemsAsRead, CreateItem (MimeContent or fields; SaveOnly, SendOnly, SendAndSaveCopy)
 * and SendItem. Sending goes through the submission path SMTP and web mail use (src/transport/).
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { simpleParser } from 'mailparser';
import { submitMessage } from '../../../transport/submit.js';
import { SmtpReply } from '../../../transport/replies.js';
import type { Folder } from '../../../store/types.js';
import { EwsError, type EwsCall, type Operation } from '../call.js';
import { folderIdElements, resolveFolder } from '../folders.js';
import { itemChangeKey, itemIdXml } from '../ids.js';
import { categoriesOf, loadItem, readExtendedUri, type StoredItem } from '../items.js';
import { perObject } from '../responses.js';
import { stageAttachment, takeAttachments, withAttachments } from '../attachments.js';
import { child, childText, children, xsBool, type XmlElement } from '../xml.js';

const ID_CHANGE_KEY = /^CK:(\d+):(\d+)$/;

/** The folder and MODSEQ a ChangeKey was made from (ids.ts), or null for one we did not make. */
function readChangeKey(ck: string | undefined): { folderId: number; modseq: number } | null {
  if (!ck) return null;
  const m = ID_CHANGE_KEY.exec(Buffer.from(ck, 'base64').toString('latin1'));
  return m ? { folderId: Number(m[1]), modseq: Number(m[2]) } : null;
}

const conflict = () => new EwsError('ErrorIrresolvableConflict', 'The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.');

/** The flags an update leaves on the item: one field at a time over the current flags. */
function applyUpdate(flags: Set<string>, u: XmlElement): void {
  const set = u.name === 'SetItemField';
  if (u.name !== 'SetItemField' && u.name !== 'DeleteItemField' && u.name !== 'AppendToItemField') throw new EwsError('ErrorInvalidRequest', `${u.name} is not an item update`);
  const fieldUri = child(u, 'FieldURI')?.attrs['FieldURI'];
  const ext = child(u, 'ExtendedFieldURI');
  const item = u.children.find((c) => c.name === 'Message' || c.name === 'Item');
  if (fieldUri === 'message:IsRead') {
    const v = set && xsBool(childText(item, 'IsRead'));
    if (v) flags.add('\\Seen'); else flags.delete('\\Seen');
  } else if (fieldUri === 'item:Categories') {
    for (const c of categoriesOf([...flags])) flags.delete(c);
    if (set || u.name === 'AppendToItemField') {
      for (const s of children(child(item, 'Categories'), 'String')) {
        const name = s.text.trim();
        if (!name || /[\s()\\{%*"\]]/.test(name) || name.startsWith('$')) throw new EwsError('ErrorInvalidValueForProperty', `"${name}" cannot be a category here (it must be an IMAP keyword)`);
        flags.add(name);
      }
    }
  } else if (fieldUri === 'item:Flag') {
    const status = set ? childText(child(item, 'Flag'), 'FlagStatus') : 'NotFlagged';
    setFlagStatus(flags, status === 'Flagged' ? 2 : status === 'Complete' ? 1 : 0);
  } else if (ext && readExtendedUri(ext)?.tag === 0x1090) {
    const v = set ? Number(childText(child(item, 'ExtendedProperty'), 'Value') ?? 0) : 0;
    setFlagStatus(flags, v);
  } else if (fieldUri === 'message:IsReadReceiptRequested' || fieldUri === 'message:IsDeliveryReceiptRequested') {
    // nothing stored: accepted so that clients that always send them can update the rest
  } else {
    throw new EwsError('ErrorInvalidPropertyUpdateSentMessage', `Updating ${fieldUri ?? (ext ? `extended property ${ext.attrs['PropertyTag'] ?? ''}` : 'this property')} is not supported`);
  }
}

/** PR_FLAG_STATUS: 2 flagged (\Flagged), 1 complete ($Completed), 0 none. */
function setFlagStatus(flags: Set<string>, status: number): void {
  flags.delete('\\Flagged');
  flags.delete('$Completed');
  if (status === 2) flags.add('\\Flagged');
  else if (status === 1) flags.add('$Completed');
}

/**
 * UpdateItem: all updates of one ItemChange in one flag write, guarded by the item's MODSEQ:
 * a ChangeKey that is not the item's current one (unless ConflictResolution="AlwaysOverwrite")
 * is ErrorIrresolvableConflict, and so is a change that lands between our read and our write.
 */
export const updateItem: Operation = async (call, op) => {
  const overwrite = op.attrs['ConflictResolution'] === 'AlwaysOverwrite';
  const { store } = call.ctx;
  return perObject('UpdateItem', children(child(op, 'ItemChanges'), 'ItemChange'), async (change) => {
    const idEl = child(change, 'ItemId');
    const m = await loadItem(call, idEl?.attrs['Id']);
    const given = readChangeKey(idEl?.attrs['ChangeKey']);
    if (!overwrite && given && (given.folderId !== m.folderId || given.modseq !== m.modseq)) throw conflict();
    const flags = new Set(m.flags);
    for (const u of child(change, 'Updates')?.children ?? []) applyUpdate(flags, u);
    let modseq = m.modseq;
    const same = flags.size === m.flags.length && m.flags.every((f) => flags.has(f));
    if (!same) {
      const r = await store.storeFlags(call.user.id, m.folderId, [m.uid], 'set', [...flags], m.modseq);
      if (r.failedModified.length) throw conflict();
      modseq = r.changed[0]?.modseq ?? modseq;
    }
    return `<m:Items><t:Message>${itemIdXml(m.objectId, itemChangeKey(m.folderId, modseq))}</t:Message></m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>`;
  });
};

export const deleteItem: Operation = async (call, op) => {
  const type = op.attrs['DeleteType'] ?? 'HardDelete';
  const { store } = call.ctx;
  const trash = await store.getSpecialFolder(call.user.id, '\\Trash');
  return perObject('DeleteItem', children(child(op, 'ItemIds'), 'ItemId'), async (el) => {
    const m = await loadItem(call, el.attrs['Id']);
    if (type === 'MoveToDeletedItems' && m.folderId !== trash.id) await store.moveMessages(call.user.id, m.folderId, [m.uid], trash.id);
    else await store.removeMessages(call.user.id, m.folderId, [m.uid]); // SoftDelete: there is no dumpster; gone like HardDelete
    return '';
  });
};

async function toFolder(call: EwsCall, op: XmlElement): Promise<Folder | Error> {
  try {
    const f = await resolveFolder(call, folderIdElements(child(op, 'ToFolderId'))[0]);
    if (!f) throw new EwsError('ErrorMoveCopyFailed', 'Items cannot be put in the root folder');
    return f;
  } catch (err) {
    return err as Error;
  }
}

/** The item a move or copy made: its id (kept by a move, new for a copy) and new ChangeKey. */
async function itemAt(call: EwsCall, folder: Folder, uid: number): Promise<StoredItem | null> {
  const { items } = await call.ctx.store.listMessagePage(call.user.id, folder.id, 0, 1_000_000_000);
  const m = items.find((x) => x.uid === uid);
  return m ? { ...m, folderId: folder.id } : null;
}

function moveOrCopy(name: 'MoveItem' | 'CopyItem'): Operation {
  return async (call, op) => {
    const to = await toFolder(call, op);
    const { store } = call.ctx;
    return perObject(name, children(child(op, 'ItemIds'), 'ItemId'), async (el) => {
      if (to instanceof Error) throw to;
      const m = await loadItem(call, el.attrs['Id']);
      if (name === 'MoveItem' && m.folderId === to.id) return `<m:Items><t:Message>${itemIdXml(m.objectId, itemChangeKey(m.folderId, m.modseq))}</t:Message></m:Items>`;
      const r = name === 'MoveItem'
        ? await store.moveMessages(call.user.id, m.folderId, [m.uid], to.id)
        : await store.copyMessages(call.user.id, m.folderId, [m.uid], to.id);
      const made = name === 'MoveItem' ? await store.getMessage(call.user.id, m.objectId) : await itemAt(call, to, r.pairs[0]![1]);
      return `<m:Items>${made ? `<t:Message>${itemIdXml(made.objectId, itemChangeKey(made.folderId, made.modseq))}</t:Message>` : ''}</m:Items>`;
    });
  };
}
export const moveItem = moveOrCopy('MoveItem');
export const copyItem = moveOrCopy('CopyItem');

export const markAllItemsAsRead: Operation = async (call, op) => {
  const read = childText(op, 'ReadFlag') === undefined || xsBool(childText(op, 'ReadFlag'));
  const { store } = call.ctx;
  return perObject('MarkAllItemsAsRead', folderIdElements(child(op, 'FolderIds')), async (el) => {
    const f = await resolveFolder(call, el);
    if (!f) throw new EwsError('ErrorInvalidOperation', 'The root folder holds no items');
    const uids = [...(await store.listMessageIndex(call.user.id, f.id)).uids];
    if (uids.length) await store.storeFlags(call.user.id, f.id, uids, read ? 'add' : 'remove', ['\\Seen']);
    return '';
  }, 'ErrorFolderNotFound');
};

// ------------------------------------------------------------------ sending

/** The submission path's refusals as EWS response codes. */
function sendFailure(e: SmtpReply): EwsError {
  if (e.responseCode === 550 || e.responseCode === 554) return new EwsError('ErrorInvalidRecipients', e.message);
  if (e.responseCode === 553) return new EwsError('ErrorSendAsDenied', e.message);
  if (e.responseCode === 552) return new EwsError('ErrorMessageSizeExceeded', e.message);
  if (e.responseCode === 452 && e.message.includes('Mailbox full')) return new EwsError('ErrorQuotaExceeded', e.message);
  return new EwsError('ErrorMessageSubmissionBlocked', e.message);
}

const emails = (container: XmlElement | undefined): string[] =>
  children(container, 'Mailbox').map((mb) => childText(mb, 'EmailAddress') ?? '').filter(Boolean);

/** The bytes of a CreateItem message: its MimeContent, or MIME built from its fields. */
function composeMime(call: EwsCall, item: XmlElement): Promise<Buffer> {
  const mime = childText(item, 'MimeContent');
  if (mime) return Promise.resolve(Buffer.from(mime, 'base64'));
  const body = child(item, 'Body');
  const html = body?.attrs['BodyType'] === 'HTML';
  return new MailComposer({
    from: { name: call.user.displayName, address: call.user.address },
    to: emails(child(item, 'ToRecipients')), cc: emails(child(item, 'CcRecipients')), bcc: emails(child(item, 'BccRecipients')),
    subject: childText(item, 'Subject') ?? '', ...(html ? { html: body?.text ?? '' } : { text: body?.text ?? '' }),
  }).compile().build();
}

/** Who a message goes to: the item's recipient elements, else its MIME To/Cc/Bcc. Bcc is taken out of the bytes sent. */
async function recipientsOf(item: XmlElement | null, raw: Buffer): Promise<{ to: string[]; raw: Buffer }> {
  const fromFields = item ? ['ToRecipients', 'CcRecipients', 'BccRecipients'].flatMap((n) => emails(child(item, n))) : [];
  const parsed = await simpleParser(raw, { skipTextToHtml: true, skipImageLinks: true });
  const list = (a: typeof parsed.to) => (a ? (Array.isArray(a) ? a : [a]).flatMap((o) => o.value.map((v) => v.address ?? '')) : []);
  const to = fromFields.length ? fromFields : [...list(parsed.to), ...list(parsed.cc), ...list(parsed.bcc)].filter(Boolean);
  return { to, raw: stripBcc(raw) };
}

/** Removes top-level Bcc header lines (with their continuations). */
function stripBcc(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  const head = (end >= 0 ? raw.subarray(0, end + 2) : raw).toString('latin1');
  if (!/^bcc:/im.test(head)) return raw;
  const kept = head.replace(/^bcc:.*\r?\n(?:[ \t].*\r?\n)*/gim, '');
  return Buffer.concat([Buffer.from(kept, 'latin1'), end >= 0 ? raw.subarray(end + 2) : Buffer.alloc(0)]);
}

async function send(call: EwsCall, item: XmlElement | null, raw: Buffer, saveToSent: boolean): Promise<void> {
  const { to, raw: bytes } = await recipientsOf(item, raw);
  const parsed = await simpleParser(raw, { skipTextToHtml: true, skipImageLinks: true });
  const from = parsed.from?.value[0]?.address ?? call.user.address;
  try {
    await submitMessage(call.ctx, call.user, { from, to, raw: bytes, saveToSent });
  } catch (err) {
    if (err instanceof SmtpReply) throw sendFailure(err);
    throw err;
  }
}

export const createItem: Operation = async (call, op) => {
  const disposition = op.attrs['MessageDisposition'] ?? 'SaveOnly';
  const { store } = call.ctx;
  const savedIn = child(op, 'SavedItemFolderId');
  return perObject('CreateItem', child(op, 'Items')?.children ?? [], async (item) => {
    if (item.name !== 'Message') throw new EwsError('ErrorInvalidItemForOperationCreateItem', `Only messages can be created here, not ${item.name}`);
    const raw = await composeMime(call, item);
    if (disposition === 'SendOnly' || disposition === 'SendAndSaveCopy') {
      await send(call, item, raw, disposition === 'SendAndSaveCopy');
      return '<m:Items/>';
    }
    const folder = savedIn ? await resolveFolder(call, folderIdElements(savedIn)[0]) : await store.getSpecialFolder(call.user.id, '\\Drafts');
    if (!folder) throw new EwsError('ErrorInvalidOperation', 'Items cannot be saved in the root folder');
    const flags = [...(folder.specialUse === '\\Drafts' ? ['\\Draft'] : []), ...(xsBool(childText(item, 'IsRead')) ? ['\\Seen'] : [])];
    const r = await store.append(call.user.id, folder.id, raw, { flags });
    return `<m:Items><t:Message>${itemIdXml(r.objectId, itemChangeKey(folder.id, r.modseq))}</t:Message></m:Items>`;
  });
};

/** SendItem: sends a saved item (a draft) and removes it; with SaveItemToFolder a copy goes to Sent Items. */
export const sendItem: Operation = async (call, op) => {
  const save = op.attrs['SaveItemToFolder'] === undefined || xsBool(op.attrs['SaveItemToFolder']);
  return perObject('SendItem', children(child(op, 'ItemIds'), 'ItemId'), async (el) => {
    const m = await loadItem(call, el.attrs['Id']);
    const given = readChangeKey(el.attrs['ChangeKey']);
    if (given && (given.folderId !== m.folderId || given.modseq !== m.modseq)) throw conflict();
    const raw = withAttachments(await call.ctx.store.readBlob(m.blobHash), takeAttachments(call.ctx, m.objectId));
    await send(call, null, raw, save);
    await call.ctx.store.removeMessages(call.user.id, m.folderId, [m.uid]);
    return '';
  });
};

/** CreateAttachment: file attachments of a saved item, staged until it is sent (attachments.ts). */
export const createAttachment: Operation = async (call, op) => {
  const parent = child(op, 'ParentItemId');
  const atts = child(op, 'Attachments')?.children ?? [];
  return perObject('CreateAttachment', atts, async (a) => {
    if (a.name !== 'FileAttachment') throw new EwsError('ErrorInvalidAttachmentSubfilter', 'Only file attachments are supported');
    const m = await loadItem(call, parent?.attrs['RootItemId'] ?? parent?.attrs['Id']);
    const content = Buffer.from(childText(a, 'Content') ?? '', 'base64');
    const index = stageAttachment(call.ctx, m.objectId, { name: childText(a, 'Name') ?? 'attachment', contentType: childText(a, 'ContentType') ?? 'application/octet-stream', content });
    return `<m:Attachments><t:FileAttachment><t:AttachmentId Id="${m.objectId}_staged${index}" RootItemId="${m.objectId}" RootItemChangeKey="${itemChangeKey(m.folderId, m.modseq)}"/></t:FileAttachment></m:Attachments>`;
  });
};
