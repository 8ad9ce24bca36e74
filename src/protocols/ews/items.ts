/**
 * Messages as EWS items: loading one by its ItemId, the item shape a request asks for, and the
 * `<t:Message>` element with the fields and extended MAPI properties of that shape.
 */
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
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

/** The item an ItemId names, in this user's mailbox: ErrorItemNotFound otherwise (also for a malformed id). */
export async function loadItem(call: EwsCall, id: string | undefined): Promise<StoredItem> {
  const item = id ? await call.ctx.store.getMessage(call.user.id, id) : null;
  if (!item) throw new EwsError('ErrorItemNotFound', 'The specified object was not found in the store.');
  return item;
}

export const itemKey = (m: { folderId: number; modseq: number }): string => itemChangeKey(m.folderId, m.modseq);

const DEFAULT_FIELDS = [
  'ParentFolderId', 'ItemClass', 'Subject', 'Sensitivity', 'Attachments', 'DateTimeReceived', 'Size', 'Categories', 'Importance',
  'IsSubmitted', 'IsDraft', 'IsFromMe', 'IsResend', 'IsUnmodified', 'DateTimeSent', 'DateTimeCreated', 'DisplayCc', 'DisplayTo',
  'HasAttachments', 'LastModifiedTime', 'Sender', 'ToRecipients', 'CcRecipients', 'From', 'InternetMessageId', 'IsRead',
  'IsReadReceiptRequested', 'IsDeliveryReceiptRequested', 'References', 'ReplyTo', 'InReplyTo',
];
/** Fields that need the message's bytes parsed. */
const NEEDS_PARSE = new Set(['Body', 'Attachments', 'Sender', 'From', 'ToRecipients', 'CcRecipients', 'BccRecipients', 'DisplayTo', 'DisplayCc', 'References', 'ReplyTo', 'InReplyTo', 'InternetMessageHeaders']);

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

function addressesOf(a: AddressObject | AddressObject[] | undefined): Array<{ name: string; address: string }> {
  const list = a ? (Array.isArray(a) ? a : [a]) : [];
  const out: Array<{ name: string; address: string }> = [];
  const walk = (v: AddressObject['value']) => {
    for (const x of v) {
      if (x.group) walk(x.group);
      else if (x.address) out.push({ name: x.name, address: x.address });
    }
  };
  for (const o of list) walk(o.value);
  return out;
}

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

export interface RenderContext {
  folders: Map<number, Folder>;
}

export async function renderContext(call: EwsCall): Promise<RenderContext> {
  return { folders: new Map((await call.ctx.store.listFolders(call.user.id)).map((f) => [f.id, f])) };
}

/** The `<t:Message>` of a stored message in this shape. */
export async function itemXml(call: EwsCall, rc: RenderContext, m: StoredItem, shape: ItemShape): Promise<string> {
  const fields = fieldsOf(shape);
  const needRaw = fields.has('MimeContent') || [...fields].some((f) => NEEDS_PARSE.has(f)) || shape.extended.some((e) => e.tag === 0x007d);
  const raw = needRaw ? await call.ctx.store.readBlob(m.blobHash) : null;
  const parsed: ParsedMail | null = raw && [...fields].some((f) => NEEDS_PARSE.has(f)) ? await simpleParser(raw, { skipTextToHtml: true, skipImageLinks: true }) : null;
  const has = (f: string) => fields.has(f);
  const out: string[] = ['<t:Message>'];
  if (has('MimeContent') && raw) out.push(`<t:MimeContent CharacterSet="UTF-8">${raw.toString('base64')}</t:MimeContent>`);
  out.push(itemIdXml(m.objectId, itemKey(m)));
  if (has('ParentFolderId')) out.push(folderIdXml(rc.folders.get(m.folderId) ?? null, 't:ParentFolderId'));
  if (has('ItemClass')) out.push('<t:ItemClass>IPM.Note</t:ItemClass>');
  if (has('Subject')) out.push(`<t:Subject>${esc(m.subject)}</t:Subject>`);
  if (has('Sensitivity')) out.push('<t:Sensitivity>Normal</t:Sensitivity>');
  if (has('Body') && parsed) {
    const html = typeof parsed.html === 'string' ? parsed.html : null;
    const wantHtml = shape.bodyType === 'HTML' || (shape.bodyType === 'Best' && html !== null);
    const body = wantHtml ? (html ?? `<html><body><pre>${esc(parsed.text ?? '')}</pre></body></html>`) : (parsed.text ?? '');
    out.push(`<t:Body BodyType="${wantHtml ? 'HTML' : 'Text'}">${esc(body)}</t:Body>`);
  }
  if (has('Attachments') && parsed && parsed.attachments.length) {
    out.push('<t:Attachments>', ...parsed.attachments.map((a, i) =>
      `<t:FileAttachment><t:AttachmentId Id="${esc(`${m.objectId}_${i}`)}"/><t:Name>${esc(a.filename ?? `attachment-${i + 1}`)}</t:Name>`
      + `<t:ContentType>${esc(a.contentType)}</t:ContentType>${a.contentId ? `<t:ContentId>${esc(a.contentId.replace(/^<|>$/g, ''))}</t:ContentId>` : ''}`
      + `<t:Size>${a.size}</t:Size><t:IsInline>${a.contentDisposition === 'inline'}</t:IsInline></t:FileAttachment>`), '</t:Attachments>');
  }
  if (has('DateTimeReceived')) out.push(`<t:DateTimeReceived>${ewsDate(m.internalDate)}</t:DateTimeReceived>`);
  if (has('Size')) out.push(`<t:Size>${m.size}</t:Size>`);
  const cats = categoriesOf(m.flags);
  if (has('Categories') && cats.length) out.push(`<t:Categories>${cats.map((c) => `<t:String>${esc(c)}</t:String>`).join('')}</t:Categories>`);
  if (has('Importance')) out.push('<t:Importance>Normal</t:Importance>');
  if (has('InReplyTo') && parsed?.inReplyTo) out.push(`<t:InReplyTo>${esc(parsed.inReplyTo)}</t:InReplyTo>`);
  if (has('IsSubmitted')) out.push('<t:IsSubmitted>false</t:IsSubmitted>');
  if (has('IsDraft')) out.push(`<t:IsDraft>${m.flags.includes('\\Draft')}</t:IsDraft>`);
  if (has('IsFromMe')) out.push('<t:IsFromMe>false</t:IsFromMe>');
  if (has('IsResend')) out.push('<t:IsResend>false</t:IsResend>');
  if (has('IsUnmodified')) out.push('<t:IsUnmodified>true</t:IsUnmodified>');
  if (has('InternetMessageHeaders') && parsed) {
    out.push(`<t:InternetMessageHeaders>${parsed.headerLines.map((h) => `<t:InternetMessageHeader HeaderName="${esc(h.line.slice(0, h.line.indexOf(':')))}">${esc(h.line.slice(h.line.indexOf(':') + 1).trim())}</t:InternetMessageHeader>`).join('')}</t:InternetMessageHeaders>`);
  }
  if (has('DateTimeSent')) out.push(`<t:DateTimeSent>${ewsDate(m.date ?? m.internalDate)}</t:DateTimeSent>`);
  if (has('DateTimeCreated')) out.push(`<t:DateTimeCreated>${ewsDate(m.internalDate)}</t:DateTimeCreated>`);
  const to = parsed ? addressesOf(parsed.to) : [];
  const cc = parsed ? addressesOf(parsed.cc) : [];
  if (has('DisplayCc')) out.push(`<t:DisplayCc>${esc(cc.map((a) => a.name || a.address).join('; '))}</t:DisplayCc>`);
  if (has('DisplayTo')) out.push(`<t:DisplayTo>${esc(to.map((a) => a.name || a.address).join('; '))}</t:DisplayTo>`);
  if (has('HasAttachments')) out.push(`<t:HasAttachments>${m.hasAttachments}</t:HasAttachments>`);
  for (const e of shape.extended) {
    const v = extendedValue(m, raw, e.tag);
    if (v !== null) out.push(`<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="${esc(e.spelling)}" PropertyType="${esc(e.type)}"/><t:Value>${esc(v)}</t:Value></t:ExtendedProperty>`);
  }
  if (has('LastModifiedTime')) out.push(`<t:LastModifiedTime>${ewsDate(m.internalDate)}</t:LastModifiedTime>`);
  if (has('Flag')) out.push(`<t:Flag><t:FlagStatus>${m.flags.includes('\\Flagged') ? 'Flagged' : m.flags.includes('$Completed') ? 'Complete' : 'NotFlagged'}</t:FlagStatus></t:Flag>`);
  const from = parsed ? addressesOf(parsed.from)[0] : undefined;
  if (has('Sender') && from) out.push(`<t:Sender>${mailboxXml(from.name, from.address)}</t:Sender>`);
  const list = (tag: string, l: Array<{ name: string; address: string }>) => (l.length ? `<t:${tag}>${l.map((a) => mailboxXml(a.name, a.address)).join('')}</t:${tag}>` : '');
  if (has('ToRecipients')) out.push(list('ToRecipients', to));
  if (has('CcRecipients')) out.push(list('CcRecipients', cc));
  if (has('BccRecipients') && parsed) out.push(list('BccRecipients', addressesOf(parsed.bcc)));
  if (has('IsReadReceiptRequested')) out.push('<t:IsReadReceiptRequested>false</t:IsReadReceiptRequested>');
  if (has('IsDeliveryReceiptRequested')) out.push('<t:IsDeliveryReceiptRequested>false</t:IsDeliveryReceiptRequested>');
  if (has('From') && from) out.push(`<t:From>${mailboxXml(from.name, from.address)}</t:From>`);
  if (has('InternetMessageId') && m.messageId) out.push(`<t:InternetMessageId>${esc(m.messageId)}</t:InternetMessageId>`);
  if (has('IsRead')) out.push(`<t:IsRead>${m.flags.includes('\\Seen')}</t:IsRead>`);
  if (has('References') && parsed?.references) out.push(`<t:References>${esc([parsed.references].flat().join(' '))}</t:References>`);
  if (has('ReplyTo') && parsed?.replyTo) out.push(list('ReplyTo', addressesOf(parsed.replyTo)));
  out.push('</t:Message>');
  return out.join('');
}
