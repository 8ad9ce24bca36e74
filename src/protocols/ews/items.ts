/**
 * Messages as EWS items: loading one by its ItemId, the item shape a request asks for, and the
 * `<t:Message>` element with the fields and extended MAPI properties of that shape.
 */
import { fieldValue, scanHeader } from '../../mime/headers.js';
import { decodedSize, fileName, mailboxes, readableParts, type ReadableParts } from '../../mime/readable-parts.js';
import { htmlToText, partText } from '../../mime/search-text.js';
import { parseMessage, type MessageStructure, type MimePart } from '../../mime/structure.js';
import type { Folder, MessageListItem } from '../../store/types.js';
import { EwsError, type EwsCall } from './call.js';
import { folderIdXml, itemChangeKey, itemIdXml } from './ids.js';
import { child, children, esc, xsBool, type XmlElement } from './xml.js';

export type StoredItem = MessageListItem & { folderId: number };

export interface ExtendedUri {
  /** As the client wrote it ("0x1090" or "4240"), echoed back so it matches what it asked. */
  spelling: string;
  tag: number;
  type: string;
}

export interface ItemShape {
  base: 'IdOnly' | 'Default' | 'AllProperties';
  bodyType: 'Best' | 'Text' | 'HTML';
  mime: boolean;
  /** FieldURIs asked for by name, without the "item:"/"message:" prefix. */
  fields: Set<string>;
  extended: ExtendedUri[];
}

export function readExtendedUri(el: XmlElement): ExtendedUri | null {
  const spelling = el.attrs['PropertyTag'];
  if (!spelling) return null;
  const tag = /^0x/i.test(spelling) ? parseInt(spelling.slice(2), 16) : parseInt(spelling, 10);
  return Number.isFinite(tag) ? { spelling, tag, type: el.attrs['PropertyType'] ?? 'String' } : null;
}

export function readItemShape(op: XmlElement, name = 'ItemShape'): ItemShape {
  const shape = child(op, name);
  const base = (child(shape, 'BaseShape')?.text.trim() ?? 'Default') as ItemShape['base'];
  const extra = child(shape, 'AdditionalProperties');
  const fields = new Set(children(extra, 'FieldURI').map((f) => (f.attrs['FieldURI'] ?? '').replace(/^\w+:/, '')));
  const extended = children(extra, 'ExtendedFieldURI').map(readExtendedUri).filter((x): x is ExtendedUri => x !== null);
  const bodyType = (child(shape, 'BodyType')?.text.trim() ?? 'Best') as ItemShape['bodyType'];
  const mime = xsBool(child(shape, 'IncludeMimeContent')?.text.trim()) || fields.has('MimeContent');
  return { base: ['IdOnly', 'Default', 'AllProperties'].includes(base) ? base : 'Default', bodyType, mime, fields, extended };
}

export const itemNotFound = (): EwsError => new EwsError('ErrorItemNotFound', 'The specified object was not found in the store.');

/** The item an ItemId names, in this user's mailbox: ErrorItemNotFound otherwise (also for a malformed id). */
export async function loadItem(call: EwsCall, id: string | undefined): Promise<StoredItem> {
  const item = id ? await call.ctx.store.getMessage(call.user.id, id) : null;
  if (!item) throw itemNotFound();
  return item;
}

/**
 * The items many ItemIds name, in one go: the lookups of a slice are made at once, so the store
 * takes them as one batch (a GetItem of 100 ids is not 100 store round trips one after another).
 * null where loadItem would answer ErrorItemNotFound.
 */
export async function prefetchItems(call: EwsCall, ids: ReadonlyArray<string | undefined>): Promise<Array<StoredItem | null>> {
  const out: Array<StoredItem | null> = [];
  for (let i = 0; i < ids.length; i += PREFETCH_SLICE) {
    out.push(...await Promise.all(ids.slice(i, i + PREFETCH_SLICE).map((id) => (id ? call.ctx.store.getMessage(call.user.id, id) : null))));
  }
  return out;
}

/** How many lookups prefetchItems has in flight at most (a request may name thousands of ids). */
const PREFETCH_SLICE = 256;

export const itemKey = (m: { folderId: number; modseq: number }): string => itemChangeKey(m.folderId, m.modseq);

const DEFAULT_FIELDS = [
  'ParentFolderId', 'ItemClass', 'Subject', 'Sensitivity', 'Attachments', 'DateTimeReceived', 'Size', 'Categories', 'Importance',
  'IsSubmitted', 'IsDraft', 'IsFromMe', 'IsResend', 'IsUnmodified', 'DateTimeSent', 'DateTimeCreated', 'DisplayCc', 'DisplayTo',
  'HasAttachments', 'LastModifiedTime', 'Sender', 'ToRecipients', 'CcRecipients', 'From', 'InternetMessageId', 'IsRead',
  'IsReadReceiptRequested', 'IsDeliveryReceiptRequested', 'References', 'ReplyTo', 'InReplyTo',
];
/** Fields answered from the MIME structure the store kept at delivery (its envelope and parts). */
const NEEDS_STRUCTURE = new Set(['Body', 'Attachments', 'Sender', 'From', 'ToRecipients', 'CcRecipients', 'BccRecipients', 'DisplayTo', 'DisplayCc', 'ReplyTo', 'InReplyTo']);
/** Fields that need the message's bytes (a part decoded, the header read); never a parse of the whole message. */
const NEEDS_RAW = new Set(['MimeContent', 'Body', 'Attachments', 'References', 'InternetMessageHeaders']);

export function fieldsOf(shape: ItemShape): Set<string> {
  const f = new Set(shape.base === 'IdOnly' ? [] : DEFAULT_FIELDS);
  if (shape.base === 'AllProperties') f.add('Body');
  for (const x of shape.fields) f.add(x);
  if (shape.mime) f.add('MimeContent');
  return f;
}

export const ewsDate = (d: Date | null | undefined): string => (d && !Number.isNaN(d.getTime()) ? d : new Date(0)).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function categoriesOf(flags: readonly string[]): string[] {
  return flags.filter((f) => !f.startsWith('\\') && !f.startsWith('$'));
}

const mailboxXml = (name: string | undefined, address: string | undefined): string =>
  `<t:Mailbox><t:Name>${esc(name || address || '')}</t:Name><t:EmailAddress>${esc(address ?? '')}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox>`;

/** The header block of a message, as PR_TRANSPORT_MESSAGE_HEADERS (0x007D) carries it. */
export function headerBlock(raw: Buffer): string {
  const end = raw.indexOf('\r\n\r\n');
  const alt = raw.indexOf('\n\n');
  const cut = end >= 0 ? end + 2 : alt >= 0 ? alt + 1 : raw.length;
  return raw.subarray(0, cut).toString('latin1');
}

/** Last verb executed (PR_LAST_VERB_EXECUTED): 102 reply, 104 forward (from \Answered, $Forwarded). */
function lastVerb(flags: readonly string[]): number | null {
  if (flags.includes('$Forwarded')) return 104;
  if (flags.includes('\\Answered')) return 102;
  return null;
}

/** PR_MESSAGE_FLAGS (0x0E07): MSGFLAG_READ 1, UNMODIFIED 2, UNSENT 8 (draft), HASATTACH 0x10. */
function messageFlags(m: StoredItem): number {
  return (m.flags.includes('\\Seen') ? 1 : 0) | 2 | (m.flags.includes('\\Draft') ? 8 : 0) | (m.hasAttachments ? 0x10 : 0);
}

function extendedValue(m: StoredItem, raw: Buffer | null, tag: number): string | null {
  switch (tag) {
    case 0x0e06: return ewsDate(m.internalDate);
    case 0x0e07: return String(messageFlags(m));
    case 0x0e08: return String(m.size);
    case 0x1090: return m.flags.includes('\\Flagged') ? '2' : m.flags.includes('$Completed') ? '1' : null;
    case 0x1081: { const v = lastVerb(m.flags); return v === null ? null : String(v); }
    case 0x0e23: return String(m.uid);
    case 0x007d: return raw ? headerBlock(raw) : null;
    default: return null;
  }
}

/** What items of one request share: the user's folders (for ParentFolderId), read once and only when a shape shows it. */
export interface RenderContext {
  folders(): Promise<Map<number, Folder>>;
}

export function renderContext(call: EwsCall): RenderContext {
  let folders: Promise<Map<number, Folder>> | null = null;
  return { folders: () => (folders ??= call.ctx.store.listFolders(call.user.id).then((l) => new Map(l.map((f) => [f.id, f])))) };
}

/** What an item shape needs besides the store's list facts: the bytes, the MIME structure, or nothing. */
export function contentNeeds(shape: ItemShape): { raw: boolean; structure: boolean } {
  const fields = fieldsOf(shape);
  const any = (set: Set<string>) => [...fields].some((f) => set.has(f));
  return { raw: any(NEEDS_RAW) || shape.extended.some((e) => e.tag === 0x007d), structure: any(NEEDS_STRUCTURE) };
}

/** A message's bytes and kept structure, when a caller read them already (a page of SyncFolderItems in one store read). */
export interface ItemContent {
  raw?: Buffer;
  structure?: string | null;
}

/** An attachment as EWS lists it: the parts a reader shows as attachments (readable-parts.ts), in order. */
export const attachmentsOf = (structure: MessageStructure): MimePart[] => readableParts(structure).attachments;

export const attachmentName = (p: MimePart, i: number): string => fileName(p) ?? `attachment-${i + 1}`;

/**
 * The `<t:Message>` of a stored message in this shape. Built from the store's list facts and the
 * MIME structure kept at delivery; the bytes are read only for the fields that show them (the
 * body part asked for is decoded, not the message parsed), as ActiveSync does (mail-item.ts).
 */
export async function itemXml(call: EwsCall, rc: RenderContext, m: StoredItem, shape: ItemShape, content: ItemContent = {}): Promise<string> {
  const fields = fieldsOf(shape);
  const needs = contentNeeds(shape);
  const raw = needs.raw || (needs.structure && content.structure === null) ? content.raw ?? await call.ctx.store.readBlob(m.blobHash) : null;
  let structure: MessageStructure | null = null;
  if (needs.structure) {
    const kept = content.structure !== undefined ? content.structure : await call.ctx.store.readStructure(m.blobHash);
    structure = kept ? (JSON.parse(kept) as MessageStructure) : parseMessage(raw ?? await call.ctx.store.readBlob(m.blobHash));
  }
  const parts: ReadableParts | null = structure && (fields.has('Body') || fields.has('Attachments')) ? readableParts(structure) : null;
  const env = structure?.envelope ?? null;
  const has = (f: string) => fields.has(f);
  const out: string[] = ['<t:Message>'];
  if (has('MimeContent') && raw) out.push(`<t:MimeContent CharacterSet="UTF-8">${raw.toString('base64')}</t:MimeContent>`);
  out.push(itemIdXml(m.objectId, itemKey(m)));
  if (has('ParentFolderId')) out.push(folderIdXml((await rc.folders()).get(m.folderId) ?? null, 't:ParentFolderId'));
  if (has('ItemClass')) out.push('<t:ItemClass>IPM.Note</t:ItemClass>');
  if (has('Subject')) out.push(`<t:Subject>${esc(m.subject)}</t:Subject>`);
  if (has('Sensitivity')) out.push('<t:Sensitivity>Normal</t:Sensitivity>');
  if (has('Body') && parts && raw) {
    const html = parts.html ? partText(raw, parts.html) : null;
    const wantHtml = shape.bodyType === 'HTML' || (shape.bodyType === 'Best' && html !== null);
    const text = () => (parts.text ? partText(raw, parts.text) : html !== null ? htmlToText(html) : '');
    const body = wantHtml ? (html ?? `<html><body><pre>${esc(text())}</pre></body></html>`) : text();
    out.push(`<t:Body BodyType="${wantHtml ? 'HTML' : 'Text'}">${esc(body)}</t:Body>`);
  }
  if (has('Attachments') && parts && raw && parts.attachments.length) {
    out.push('<t:Attachments>', ...parts.attachments.map((a, i) =>
      `<t:FileAttachment><t:AttachmentId Id="${esc(`${m.objectId}_${i}`)}"/><t:Name>${esc(attachmentName(a, i))}</t:Name>`
      + `<t:ContentType>${esc(`${a.contentType.type}/${a.contentType.subtype}`)}</t:ContentType>${a.contentId ? `<t:ContentId>${esc(a.contentId.replace(/^<|>$/g, ''))}</t:ContentId>` : ''}`
      + `<t:Size>${decodedSize(raw, a)}</t:Size><t:IsInline>${a.disposition?.value === 'inline'}</t:IsInline></t:FileAttachment>`), '</t:Attachments>');
  }
  if (has('DateTimeReceived')) out.push(`<t:DateTimeReceived>${ewsDate(m.internalDate)}</t:DateTimeReceived>`);
  if (has('Size')) out.push(`<t:Size>${m.size}</t:Size>`);
  const cats = categoriesOf(m.flags);
  if (has('Categories') && cats.length) out.push(`<t:Categories>${cats.map((c) => `<t:String>${esc(c)}</t:String>`).join('')}</t:Categories>`);
  if (has('Importance')) out.push('<t:Importance>Normal</t:Importance>');
  if (has('InReplyTo') && env?.inReplyTo) out.push(`<t:InReplyTo>${esc(env.inReplyTo)}</t:InReplyTo>`);
  if (has('IsSubmitted')) out.push('<t:IsSubmitted>false</t:IsSubmitted>');
  if (has('IsDraft')) out.push(`<t:IsDraft>${m.flags.includes('\\Draft')}</t:IsDraft>`);
  if (has('IsFromMe')) out.push('<t:IsFromMe>false</t:IsFromMe>');
  if (has('IsResend')) out.push('<t:IsResend>false</t:IsResend>');
  if (has('IsUnmodified')) out.push('<t:IsUnmodified>true</t:IsUnmodified>');
  const header = raw && (has('InternetMessageHeaders') || has('References')) ? scanHeader(raw, 0, raw.length) : null;
  if (has('InternetMessageHeaders') && raw && header) {
    out.push(`<t:InternetMessageHeaders>${header.fields.map((h) => `<t:InternetMessageHeader HeaderName="${esc(h.name)}">${esc(fieldValue(raw, h))}</t:InternetMessageHeader>`).join('')}</t:InternetMessageHeaders>`);
  }
  if (has('DateTimeSent')) out.push(`<t:DateTimeSent>${ewsDate(m.date ?? m.internalDate)}</t:DateTimeSent>`);
  if (has('DateTimeCreated')) out.push(`<t:DateTimeCreated>${ewsDate(m.internalDate)}</t:DateTimeCreated>`);
  const to = mailboxes(env?.to ?? null);
  const cc = mailboxes(env?.cc ?? null);
  if (has('DisplayCc')) out.push(`<t:DisplayCc>${esc(cc.map((a) => a.name || a.address).join('; '))}</t:DisplayCc>`);
  if (has('DisplayTo')) out.push(`<t:DisplayTo>${esc(to.map((a) => a.name || a.address).join('; '))}</t:DisplayTo>`);
  if (has('HasAttachments')) out.push(`<t:HasAttachments>${m.hasAttachments}</t:HasAttachments>`);
  for (const e of shape.extended) {
    const v = extendedValue(m, raw, e.tag);
    if (v !== null) out.push(`<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="${esc(e.spelling)}" PropertyType="${esc(e.type)}"/><t:Value>${esc(v)}</t:Value></t:ExtendedProperty>`);
  }
  if (has('LastModifiedTime')) out.push(`<t:LastModifiedTime>${ewsDate(m.internalDate)}</t:LastModifiedTime>`);
  if (has('Flag')) out.push(`<t:Flag><t:FlagStatus>${m.flags.includes('\\Flagged') ? 'Flagged' : m.flags.includes('$Completed') ? 'Complete' : 'NotFlagged'}</t:FlagStatus></t:Flag>`);
  const from = mailboxes(env?.from ?? null)[0];
  if (has('Sender') && from) out.push(`<t:Sender>${mailboxXml(from.name, from.address)}</t:Sender>`);
  const list = (tag: string, l: Array<{ name: string; address: string }>) => (l.length ? `<t:${tag}>${l.map((a) => mailboxXml(a.name, a.address)).join('')}</t:${tag}>` : '');
  if (has('ToRecipients')) out.push(list('ToRecipients', to));
  if (has('CcRecipients')) out.push(list('CcRecipients', cc));
  if (has('BccRecipients') && env) out.push(list('BccRecipients', mailboxes(env.bcc)));
  if (has('IsReadReceiptRequested')) out.push('<t:IsReadReceiptRequested>false</t:IsReadReceiptRequested>');
  if (has('IsDeliveryReceiptRequested')) out.push('<t:IsDeliveryReceiptRequested>false</t:IsDeliveryReceiptRequested>');
  if (has('From') && from) out.push(`<t:From>${mailboxXml(from.name, from.address)}</t:From>`);
  if (has('InternetMessageId') && m.messageId) out.push(`<t:InternetMessageId>${esc(m.messageId)}</t:InternetMessageId>`);
  if (has('IsRead')) out.push(`<t:IsRead>${m.flags.includes('\\Seen')}</t:IsRead>`);
  const references = raw && header ? header.fields.filter((f) => f.lname === 'references').map((f) => fieldValue(raw, f)).join(' ').trim() : '';
  if (has('References') && references) out.push(`<t:References>${esc(references.split(/\s+/).join(' '))}</t:References>`);
  if (has('ReplyTo') && env?.replyTo) out.push(list('ReplyTo', mailboxes(env.replyTo)));
  out.push('</t:Message>');
  return out.join('');
}
