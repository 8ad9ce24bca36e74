/**
 * A stored message as an ActiveSync Email item (MS-ASEMAIL): the header fields, read and flag
 * state, the body in the type the client prefers (MS-ASAIRS BodyPreference: 1 plain text,
 * 2 HTML, 4 the whole MIME message), truncated to its TruncationSize, and the attachments as
 * FileReferences that ItemOperations Fetch answers.
 */
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { el, type WbxmlElement } from './wbxml/codec.js';

export interface BodyPreference {
  type: 1 | 2 | 4;
  truncationSize: number | null;
}

/** What a client gets without a BodyPreference: plain text, 32 KiB (as Exchange's default for 12.1 clients). */
export const DEFAULT_BODY_PREFERENCE: BodyPreference = { type: 1, truncationSize: 32 * 1024 };

export function bodyPreferenceOf(options: WbxmlElement | undefined): BodyPreference | null {
  if (!options) return null;
  for (const c of options.children) {
    if (typeof c !== 'object' || Buffer.isBuffer(c) || c.tag !== 'BodyPreference') continue;
    let type = 1;
    let truncationSize: number | null = null;
    for (const p of c.children) {
      if (typeof p !== 'object' || Buffer.isBuffer(p)) continue;
      const v = Number(p.children.join(''));
      if (p.tag === 'Type' && [1, 2, 4].includes(v)) type = v;
      if (p.tag === 'TruncationSize' && Number.isSafeInteger(v) && v >= 0) truncationSize = v;
    }
    return { type: type as 1 | 2 | 4, truncationSize };
  }
  return null;
}

const addresses = (a: AddressObject | AddressObject[] | undefined): string =>
  (Array.isArray(a) ? a : a ? [a] : []).map((x) => x.text).join(', ');
const names = (a: AddressObject | AddressObject[] | undefined): string =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((x) => x.value.map((v) => v.name || v.address || '')).join('; ');

/** An ActiveSync date: ISO 8601 in UTC with milliseconds (MS-ASDTYPE 2.3). */
export const easDate = (d: Date): string => d.toISOString();

export interface MessageFacts {
  objectId: string;
  raw: Buffer;
  flags: readonly string[];
  internalDate: Date;
}

/** The ApplicationData of an Add (or an ItemOperations Fetch's Properties). */
export async function applicationData(m: MessageFacts, pref: BodyPreference, tag: 'ApplicationData' | 'Properties' = 'ApplicationData', page = 'AirSync'): Promise<WbxmlElement> {
  const parsed = await simpleParser(m.raw, { skipTextToHtml: true, skipImageLinks: true });
  const priority = String((parsed as { priority?: string }).priority ?? 'normal');
  const importance = priority === 'high' ? '2' : priority === 'low' ? '0' : '1';
  const fields: WbxmlElement[] = [
    el('Email', 'To', addresses(parsed.to)),
    parsed.cc ? el('Email', 'Cc', addresses(parsed.cc)) : null,
    el('Email', 'From', addresses(parsed.from)),
    el('Email', 'Subject', parsed.subject ?? ''),
    parsed.replyTo ? el('Email', 'ReplyTo', addresses(parsed.replyTo)) : null,
    el('Email', 'DateReceived', easDate(m.internalDate)),
    el('Email', 'DisplayTo', names(parsed.to)),
    el('Email', 'ThreadTopic', (parsed.subject ?? '').replace(/^((re|fwd?|aw|wg)\s*:\s*)+/i, '')),
    el('Email', 'Importance', importance),
    el('Email', 'Read', m.flags.includes('\\Seen') ? '1' : '0'),
  ].filter((x): x is WbxmlElement => x !== null);
  fields.push(body(parsed, m.raw, pref));
  const attachments = attachmentsOf(parsed, m.objectId);
  if (attachments) fields.push(attachments);
  fields.push(
    el('Email', 'MessageClass', 'IPM.Note'),
    el('Email', 'InternetCPID', '65001'),
    flagElement(m.flags),
    el('Email', 'ContentClass', 'urn:content-classes:message'),
    el('AirSyncBase', 'NativeBodyType', parsed.html ? '2' : '1'),
  );
  return el(page, tag, fields);
}

/** Email:Flag from \Flagged (MS-ASEMAIL 2.2.2.27: FlagStatus 2 active, an empty Flag clears it). */
export function flagElement(flags: readonly string[]): WbxmlElement {
  return flags.includes('\\Flagged') ? el('Email', 'Flag', [el('Email', 'FlagStatus', '2'), el('Email', 'FlagType', 'Flag for follow up')]) : el('Email', 'Flag');
}

function body(parsed: ParsedMail, raw: Buffer, pref: BodyPreference): WbxmlElement {
  let data: string;
  let type: number = pref.type;
  if (pref.type === 4) data = raw.toString('utf8');
  else if (pref.type === 2 && parsed.html) data = parsed.html;
  else {
    type = 1;
    data = parsed.text ?? '';
  }
  const size = Buffer.byteLength(data);
  const limit = pref.truncationSize;
  const truncated = limit !== null && size > limit;
  if (truncated) data = Buffer.from(data).subarray(0, limit).toString('utf8').replace(/\uFFFD$/, '');
  return el('AirSyncBase', 'Body', [
    el('AirSyncBase', 'Type', String(type)),
    el('AirSyncBase', 'EstimatedDataSize', String(size)),
    el('AirSyncBase', 'Truncated', truncated ? '1' : '0'),
    el('AirSyncBase', 'Data', data),
  ]);
}

/** FileReference of a message's n-th attachment: what ItemOperations Fetch is given back. */
export const fileReference = (objectId: string, index: number): string => `${objectId}:${index}`;

export function parseFileReference(ref: string | undefined): { objectId: string; index: number } | null {
  const m = /^(M[0-9a-z]{1,11}):(\d{1,4})$/.exec(ref ?? '');
  return m ? { objectId: m[1]!, index: Number(m[2]) } : null;
}

function attachmentsOf(parsed: ParsedMail, objectId: string): WbxmlElement | null {
  if (!parsed.attachments.length) return null;
  return el('AirSyncBase', 'Attachments', parsed.attachments.map((a, i) => el('AirSyncBase', 'Attachment', [
    el('AirSyncBase', 'DisplayName', a.filename ?? `attachment-${i + 1}`),
    el('AirSyncBase', 'FileReference', fileReference(objectId, i)),
    el('AirSyncBase', 'Method', '1'),
    el('AirSyncBase', 'EstimatedDataSize', String(a.size)),
    a.cid ? el('AirSyncBase', 'ContentId', a.cid) : null,
    el('AirSyncBase', 'IsInline', a.contentDisposition === 'inline' ? '1' : '0'),
  ])));
}

/** An attachment's bytes and type, or null when the message has no such attachment. */
export async function attachmentOf(raw: Buffer, index: number): Promise<{ content: Buffer; contentType: string; filename: string } | null> {
  const parsed = await simpleParser(raw, { skipTextToHtml: true, skipImageLinks: true });
  const a = parsed.attachments[index];
  return a ? { content: a.content, contentType: a.contentType, filename: a.filename ?? `attachment-${index + 1}` } : null;
}
