import { simpleParser, type AddressObject, type Attachment } from 'mailparser';
import { readingDocument, sanitiseHtml } from './sanitise.js';

export interface AttachmentInfo {
  index: number;
  filename: string;
  contentType: string;
  size: number;
}

/** What the reading pane gets: headers, one body form, and the attachment list. */
export interface MessageView {
  subject: string;
  from: string;
  fromAddress: string;
  to: string;
  cc: string;
  /** Only drafts keep a Bcc header. */
  bcc: string;
  replyTo: string;
  date: string | null;
  messageId: string | null;
  references: string[];
  /** A whole document for `<iframe srcdoc>`, already sanitised; null for plain text mail. */
  htmlDocument: string | null;
  text: string;
  remoteImages: number;
  attachments: AttachmentInfo[];
}

function addresses(a: AddressObject | AddressObject[] | undefined): string {
  if (!a) return '';
  return (Array.isArray(a) ? a : [a]).map((x) => x.text).join(', ');
}

function firstAddress(a: AddressObject | AddressObject[] | undefined): string {
  const first = Array.isArray(a) ? a[0] : a;
  return first?.value[0]?.address ?? '';
}

/** Attachments the user can download: inline images already shown in the body are left out. */
function downloadable(all: Attachment[], hasHtml: boolean): Attachment[] {
  return all.filter((a) => !(hasHtml && a.related && a.contentDisposition === 'inline' && a.contentId));
}

export function attachmentName(a: Attachment, index: number): string {
  return (a.filename ?? '').replace(/[\0-\x1f\\/]/g, '_').slice(0, 200) || `attachment-${index + 1}`;
}

export async function renderMessage(raw: Buffer, showImages: boolean): Promise<MessageView> {
  const m = await simpleParser(raw, { skipTextToHtml: true });
  const sanitised = m.html ? sanitiseHtml(m.html, { showImages }) : null;
  const refs = m.references === undefined ? [] : Array.isArray(m.references) ? m.references : [m.references];
  return {
    subject: m.subject ?? '',
    from: addresses(m.from),
    fromAddress: firstAddress(m.from),
    to: addresses(m.to),
    cc: addresses(m.cc),
    bcc: addresses(m.bcc),
    replyTo: firstAddress(m.replyTo),
    date: m.date ? m.date.toISOString() : null,
    messageId: m.messageId ?? null,
    references: refs,
    htmlDocument: sanitised ? readingDocument(sanitised.html, showImages) : null,
    text: m.text ?? '',
    remoteImages: sanitised?.remoteImages ?? 0,
    attachments: downloadable(m.attachments, !!m.html).map((a, index) => ({
      index, filename: attachmentName(a, index), contentType: a.contentType, size: a.size,
    })),
  };
}

/** The attachments as the list above numbers them (for download and for forwarding). */
export async function messageAttachments(raw: Buffer): Promise<Attachment[]> {
  const m = await simpleParser(raw, { skipTextToHtml: true });
  return downloadable(m.attachments, !!m.html);
}
