/**
 * Attachments added to a saved item (CreateAttachment, as the EWS Managed API sends a message
 * with attachments: CreateItem SaveOnly, CreateAttachment, SendItem). The store keeps a
 * message's bytes unchanged for the life of its id, and an item must keep its id here, so the
 * attachments are staged in memory for that item and become MIME parts when it is sent
 * (withAttachments). Known gap: they are not in the stored draft (GetItem does not list them)
 * and a restart forgets them.
 */
import { randomBytes } from 'node:crypto';
import type { ServerContext } from '../../server/context.js';

export interface StagedAttachment {
  name: string;
  contentType: string;
  content: Buffer;
}

const staged = new WeakMap<ServerContext, Map<string, StagedAttachment[]>>();

function tableOf(ctx: ServerContext): Map<string, StagedAttachment[]> {
  let t = staged.get(ctx);
  if (!t) staged.set(ctx, (t = new Map()));
  return t;
}

/** Stages one; returns its index among the item's staged attachments. */
export function stageAttachment(ctx: ServerContext, itemId: string, a: StagedAttachment): number {
  const t = tableOf(ctx);
  const list = t.get(itemId) ?? [];
  list.push(a);
  t.set(itemId, list);
  return list.length - 1;
}

/** Takes the item's staged attachments (they are then gone). */
export function takeAttachments(ctx: ServerContext, itemId: string): StagedAttachment[] {
  const t = tableOf(ctx);
  const list = t.get(itemId) ?? [];
  t.delete(itemId);
  return list;
}

const headerSafe = (s: string) => s.replace(/[\r\n"\\]/g, '_');

/**
 * The message with the attachments as parts of a multipart/mixed: the original headers stay at
 * the top, the original body (with its own Content-Type) becomes the first part.
 */
export function withAttachments(raw: Buffer, atts: StagedAttachment[]): Buffer {
  if (!atts.length) return raw;
  let end = raw.indexOf('\r\n\r\n');
  const sep = end >= 0 ? 4 : 2;
  if (end < 0) end = raw.indexOf('\n\n');
  const head = (end >= 0 ? raw.subarray(0, end) : raw).toString('latin1');
  const body = end >= 0 ? raw.subarray(end + sep) : Buffer.alloc(0);
  const fields = head.split(/\r?\n(?![ \t])/);
  const isContent = (f: string) => /^(content-[\w-]+|mime-version)\s*:/i.test(f);
  const top = fields.filter((f) => !isContent(f));
  const inner = fields.filter((f) => /^content-[\w-]+\s*:/i.test(f));
  if (!inner.some((f) => /^content-type\s*:/i.test(f))) inner.push('Content-Type: text/plain; charset=us-ascii');
  const boundary = `----=_mw_${randomBytes(12).toString('hex')}`;
  const parts = [
    Buffer.from(`${top.join('\r\n')}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n--${boundary}\r\n${inner.join('\r\n')}\r\n\r\n`, 'latin1'),
    body,
  ];
  for (const a of atts) {
    const b64 = a.content.toString('base64').replace(/.{76}/g, '$&\r\n');
    parts.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: ${headerSafe(a.contentType || 'application/octet-stream')}; name="${headerSafe(a.name)}"\r\n`
      + `Content-Disposition: attachment; filename="${headerSafe(a.name)}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`, 'latin1'));
  }
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(parts);
}
