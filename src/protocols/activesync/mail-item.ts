/**
 * A stored message as an ActiveSync Email item (MS-ASEMAIL): the header fields, read and flag
 * state, the body in the type the client prefers (MS-ASAIRS BodyPreference: 1 plain text,
 * 2 HTML, 4 the whole MIME message), truncated to its TruncationSize, and the attachments as
 * FileReferences that ItemOperations Fetch answers.
 */
import { parseMessage, type MessageStructure, type MimePart } from '../../mime/structure.js';
import { fieldValue, scanHeader } from '../../mime/headers.js';
import { decodeHeaderValue, htmlToText, partText } from '../../mime/search-text.js';
import { decodeTransfer } from '../../mime/transfer-encoding.js';
import { addressNames, addressText, decodedSize, fileName, readableParts, type ReadableParts } from '../../mime/readable-parts.js';
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

/** An ActiveSync date: ISO 8601 in UTC with milliseconds (MS-ASDTYPE 2.3). */
export const easDate = (d: Date): string => d.toISOString();

export interface MessageFacts {
  objectId: string;
  raw: Buffer;
  flags: readonly string[];
  internalDate: Date;
  /** The MIME structure the store kept at delivery (JSON, Store.getMessages `structure`); parsed from `raw` when absent. */
  structure?: string | null;
}

const structureOf = (m: MessageFacts): MessageStructure => (m.structure ? (JSON.parse(m.structure) as MessageStructure) : parseMessage(m.raw));

/** Importance from X-Priority, Importance or X-MSMail-Priority (2 high, 1 normal, 0 low). */
function importanceOf(raw: Buffer): string {
  const header = scanHeader(raw, 0, raw.length);
  for (const f of header.fields) {
    if (f.lname !== 'x-priority' && f.lname !== 'importance' && f.lname !== 'x-msmail-priority') continue;
    const v = fieldValue(raw, f).trim().toLowerCase();
    if (/^[12]\b|^high|^urgent/.test(v)) return '2';
    if (/^[45]\b|^low|^non-urgent/.test(v)) return '0';
    return '1';
  }
  return '1';
}

/**
 * The ApplicationData of an Add (or an ItemOperations Fetch's Properties). Built from the stored
 * structure: only the body part the client asked for is decoded, attachments are described from
 * their headers (a first sync of 10,000 messages does not parse 10,000 messages again).
 */
export async function applicationData(m: MessageFacts, pref: BodyPreference, tag: 'ApplicationData' | 'Properties' = 'ApplicationData', page = 'AirSync'): Promise<WbxmlElement> {
  const structure = structureOf(m);
  const env = structure.envelope;
  const parts = readableParts(structure);
  const subject = env.subject === null ? '' : decodeHeaderValue(env.subject);
  const fields: WbxmlElement[] = [
    el('Email', 'To', addressText(env.to)),
    env.cc ? el('Email', 'Cc', addressText(env.cc)) : null,
    el('Email', 'From', addressText(env.from)),
    el('Email', 'Subject', subject),
    env.replyTo && env.from && addressText(env.replyTo) !== addressText(env.from) ? el('Email', 'ReplyTo', addressText(env.replyTo)) : null,
    el('Email', 'DateReceived', easDate(m.internalDate)),
    el('Email', 'DisplayTo', addressNames(env.to).join('; ')),
    el('Email', 'ThreadTopic', subject.replace(/^((re|fwd?|aw|wg)\s*:\s*)+/i, '')),
    el('Email', 'Importance', importanceOf(m.raw)),
    el('Email', 'Read', m.flags.includes('\\Seen') ? '1' : '0'),
  ].filter((x): x is WbxmlElement => x !== null);
  fields.push(body(m.raw, parts, pref));
  const attachments = attachmentsOf(m.raw, parts, m.objectId);
  if (attachments) fields.push(attachments);
  fields.push(
    el('Email', 'MessageClass', 'IPM.Note'),
    el('Email', 'InternetCPID', '65001'),
    flagElement(m.flags),
    el('Email', 'ContentClass', 'urn:content-classes:message'),
    el('AirSyncBase', 'NativeBodyType', parts.html ? '2' : '1'),
  );
  return el(page, tag, fields);
}

/** Email:Flag from \Flagged (MS-ASEMAIL 2.2.2.27: FlagStatus 2 active, an empty Flag clears it). */
export function flagElement(flags: readonly string[]): WbxmlElement {
  return flags.includes('\\Flagged') ? el('Email', 'Flag', [el('Email', 'FlagStatus', '2'), el('Email', 'FlagType', 'Flag for follow up')]) : el('Email', 'Flag');
}

function body(raw: Buffer, parts: ReadableParts, pref: BodyPreference): WbxmlElement {
  let data: string;
  let type: number = pref.type;
  if (pref.type === 4) data = raw.toString('utf8');
  else if (pref.type === 2 && parts.html) data = partText(raw, parts.html);
  else {
    type = 1;
    data = parts.text ? partText(raw, parts.text) : parts.html ? htmlToText(partText(raw, parts.html)) : '';
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

const attachmentName = (p: MimePart, i: number) => fileName(p) ?? `attachment-${i + 1}`;

function attachmentsOf(raw: Buffer, parts: ReadableParts, objectId: string): WbxmlElement | null {
  if (!parts.attachments.length) return null;
  return el('AirSyncBase', 'Attachments', parts.attachments.map((a, i) => el('AirSyncBase', 'Attachment', [
    el('AirSyncBase', 'DisplayName', attachmentName(a, i)),
    el('AirSyncBase', 'FileReference', fileReference(objectId, i)),
    el('AirSyncBase', 'Method', '1'),
    el('AirSyncBase', 'EstimatedDataSize', String(decodedSize(raw, a))),
    a.contentId ? el('AirSyncBase', 'ContentId', a.contentId.replace(/^<|>$/g, '')) : null,
    el('AirSyncBase', 'IsInline', a.disposition?.value === 'inline' ? '1' : '0'),
  ])));
}

/** An attachment's bytes and type, or null when the message has no such attachment. */
export async function attachmentOf(raw: Buffer, index: number): Promise<{ content: Buffer; contentType: string; filename: string } | null> {
  const a = readableParts(parseMessage(raw)).attachments[index];
  if (!a) return null;
  const body = raw.subarray(a.bodyStart, a.bodyEnd);
  return { content: decodeTransfer(body, a.encoding) ?? body, contentType: `${a.contentType.type}/${a.contentType.subtype}`, filename: attachmentName(a, index) };
}
