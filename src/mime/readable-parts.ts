/**
 * Which parts of a message a reader shows, from the structure the store kept at delivery
 * (structure.ts), without parsing the message again: the plain-text body, the HTML body and the
 * attachments — as mail clients (and mailparser) split them. Only the part that is shown needs
 * decoding afterwards (search-text.ts partText), so a client that asks for the plain text of a
 * message with a large attachment costs the text part, not the attachment.
 */
import type { Address, MessageStructure, MimePart } from './structure.js';
import { paramText } from './params.js';
import { decodeHeaderValue } from './search-text.js';

export interface ReadableParts {
  text: MimePart | null;
  html: MimePart | null;
  attachments: MimePart[];
}

const isAttachment = (p: MimePart) =>
  p.disposition?.value === 'attachment' || (p.disposition !== undefined && fileName(p) !== undefined && p.contentType.type !== 'text');

/** The part's file name (Content-Disposition filename, else Content-Type name), decoded. */
export function fileName(p: MimePart): string | undefined {
  return (p.disposition && paramText(p.disposition.params, 'filename')) || paramText(p.contentType.params, 'name');
}

export function readableParts(msg: MessageStructure): ReadableParts {
  const out: ReadableParts = { text: null, html: null, attachments: [] };
  walk(msg.root, out);
  return out;
}

function walk(p: MimePart, out: ReadableParts): void {
  if (p.parts) {
    for (const c of p.parts) walk(c, out);
    return;
  }
  const t = p.contentType;
  // the first plain and the first HTML part that are not attachments are the body (of an
  // alternative, both; of a mixed message, the one it has); any further one is an attachment
  if (!p.message && t.type === 'text' && !isAttachment(p)) {
    if (t.subtype === 'plain' && !out.text) return void (out.text = p);
    if (t.subtype === 'html' && !out.html) return void (out.html = p);
  }
  out.attachments.push(p);
}

/** The decoded size of a part's body, from its encoded length (an estimate for base64 with odd line breaks). */
export function decodedSize(raw: Buffer, p: MimePart): number {
  const encoded = p.bodyEnd - p.bodyStart;
  if (p.encoding === 'base64') {
    let chars = 0;
    for (let i = p.bodyStart; i < p.bodyEnd; i++) {
      const c = raw[i]!;
      if (c !== 0x0d && c !== 0x0a && c !== 0x20 && c !== 0x09 && c !== 0x3d) chars++;
    }
    return Math.floor((chars * 3) / 4);
  }
  return encoded;
}

/** Envelope addresses as header text: `"Name" <mailbox@host>` (names decoded), groups left out. */
export function addressText(list: Address[] | null): string {
  return mailboxes(list).map((a) => (a.name ? `${quoteName(a.name)} <${a.address}>` : a.address)).join(', ');
}

/** The names of envelope addresses (the address where there is no name). */
export function addressNames(list: Address[] | null): string[] {
  return mailboxes(list).map((a) => a.name || a.address);
}

/** Envelope addresses as name (decoded, '' when none) and address, groups left out. */
export function mailboxes(list: Address[] | null): Array<{ name: string; address: string }> {
  return (list ?? []).filter((a) => a.host !== null && a.mailbox !== null).map((a) => ({
    name: a.name ? decodeHeaderValue(a.name) : '',
    address: `${a.mailbox}@${a.host}`,
  }));
}

const quoteName = (name: string) => (/^[\p{L}\p{N}_ !#$%&'*+\-/=?^`{|}~]*$/u.test(name) ? name : `"${name.replace(/["\\]/g, '\\$&')}"`);
