import { createHash } from 'node:crypto';
import { parseMessage, type MessageStructure } from '../mime/structure.js';
import { firstValue, scanHeader } from '../mime/headers.js';
import { bodyTextPrefix, decodeHeaderValue } from '../mime/search-text.js';
import { sentDate, storedSortFacts, type SortFacts } from '../mime/sort-facts.js';
import type { MessageHeaderFacts } from './types.js';

const PREVIEW_CHARS = 200;

export interface AnalysedMessage {
  hash: string;
  structure: MessageStructure;
  facts: MessageHeaderFacts;
  /** What SORT and THREAD compare (Store.getSortFacts), kept beside the bytes. */
  sortFacts: SortFacts;
}

/**
 * Everything IMAP FETCH/SEARCH and the web mail list need about a message is computed
 * here once, at delivery, and stored beside the bytes (content-addressed by SHA-256).
 */
export function analyseMessage(raw: Buffer): AnalysedMessage {
  const hash = createHash('sha256').update(raw).digest('hex');
  const structure = parseMessage(raw);
  // the header scanned once for the five fields (each headerValues call scanned it again)
  const head = scanHeader(raw, 0, raw.length);
  const first = (name: string) => decodeHeaderValue(firstValue(raw, head, name) ?? '').trim();
  const sent = sentDate(firstValue(raw, head, 'date'));
  const text = safeBodyText(raw, structure);
  return {
    hash,
    structure,
    facts: {
      subject: first('subject'),
      from: first('from'),
      to: first('to'),
      date: Number.isNaN(sent) ? null : new Date(sent),
      messageId: firstValue(raw, head, 'message-id')?.trim() ?? null,
      hasAttachments: hasAttachment(structure.root),
      preview: preview(text, PREVIEW_CHARS),
    },
    sortFacts: storedSortFacts(raw, head, sent),
  };
}

/**
 * The first `max` characters of the text with whitespace runs collapsed and trimmed — as
 * `text.replace(/\s+/g, ' ').trim().slice(0, max)`, but collapsing only a prefix long enough
 * to give them (collapsing a prefix gives a prefix of the collapsed whole), not a whole body.
 */
/**
 * The top-level header block of a message as Store.getMessages' `header` gives it. `cut`: the
 * backend already cut it at the stored structure's root.headerEnd (the same end, computed at
 * delivery by parseMessage); otherwise (no structure stored) `data` is the whole message.
 */
export function headerBlock(data: Buffer, cut: boolean): Buffer {
  if (cut) return data;
  // a copy: the body is not kept alive (or sent across the store thread) with it
  return Buffer.from(data.subarray(0, scanHeader(data, 0, data.length).end));
}

export function preview(text: string, max: number): string {
  const t = text.trimStart();
  for (let take = max * 8; ; take *= 4) {
    if (take >= t.length) return t.replace(/\s+/g, ' ').trim().slice(0, max);
    const p = t.slice(0, take).replace(/\s+/g, ' ');
    // more than `max` characters: the trailing trim of the whole cannot reach into the first `max`
    if (p.length > max) return p.slice(0, max);
  }
}

function safeBodyText(raw: Buffer, s: MessageStructure): string {
  try {
    // only the preview needs the text: its start is enough (SEARCH reads bodyText itself)
    return bodyTextPrefix(raw, s, PREVIEW_CHARS);
  } catch {
    return ''; // broken MIME must never block a delivery
  }
}

function hasAttachment(part: MessageStructure['root']): boolean {
  if (part.disposition?.value.toLowerCase() === 'attachment') return true;
  if (part.parts) return part.parts.some(hasAttachment);
  return part.contentType.type === 'message';
}
