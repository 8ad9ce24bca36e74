/**
 * SendMail, SmartReply, SmartForward (MS-ASCMD 2.2.1.16–18) through the one submission path
 * (src/transport/submit.ts: own sender address, size and recipient limits, local delivery, the
 * queue). 14.x sends WBXML with the MIME in ComposeMail:Mime; 12.1 sends the MIME itself
 * (message/rfc822) with SaveInSent in the query. SmartForward without ReplaceMime attaches the
 * original message; SmartReply sends what the device wrote (phones quote the original themselves).
 * Bcc recipients get the message and the Bcc header is taken out.
 */
import { simpleParser, type AddressObject } from 'mailparser';
import { submitMessage } from '../../../transport/submit.js';
import { SmtpReply } from '../../../transport/replies.js';
import type { EasAnswer, EasCall } from '../call.js';
import { folderOf } from '../folders.js';
import { bytes, child, childText, el } from '../wbxml/codec.js';

type Kind = 'SendMail' | 'SmartReply' | 'SmartForward';

const list = (a: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((x) => x.value.flatMap((v) => (v.group ? v.group.map((g) => g.address ?? '') : [v.address ?? '']))).filter(Boolean);

/** The header block's end and the message without its Bcc field (folded lines included). */
function withoutBcc(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const kept = head.split(/\r?\n(?![ \t])/).filter((f) => !/^bcc\s*:/i.test(f)).join('\r\n');
  return Buffer.concat([Buffer.from(kept, 'latin1'), raw.subarray(end < 0 ? raw.length : end)]);
}

export function sendCommand(kind: Kind) {
  return async (call: EasCall): Promise<EasAnswer> => {
    const fail = (status: number) => ({ wbxml: el('ComposeMail', kind, [el('ComposeMail', 'Status', String(status))]) });
    let mime: Buffer;
    let saveInSent: boolean;
    let source: { folderId?: string; itemId?: string } = {};
    let replaceMime = false;
    if (call.body) {
      mime = bytes(child(call.body, 'Mime')) ?? Buffer.alloc(0);
      saveInSent = child(call.body, 'SaveInSentItems') !== undefined;
      const src = child(call.body, 'Source');
      source = { folderId: childText(src, 'FolderId'), itemId: childText(src, 'ItemId') };
      replaceMime = child(call.body, 'ReplaceMime') !== undefined;
    } else {
      mime = call.raw;
      saveInSent = call.req.params.SaveInSent === 'T';
      source = { folderId: call.req.params.CollectionId, itemId: call.req.params.ItemId };
    }
    if (!mime.length) return fail(107);
    const parsed = await simpleParser(mime, { skipTextToHtml: true, skipImageLinks: true });
    const to = [...list(parsed.to), ...list(parsed.cc), ...list(parsed.bcc)];
    if (!to.length) return fail(119);
    let raw = withoutBcc(mime);
    if (!parsed.from) raw = Buffer.concat([Buffer.from(`From: ${call.user.address}\r\n`), raw]);
    const from = list(parsed.from)[0] ?? call.user.address;

    if (kind !== 'SendMail') {
      const folder = await folderOf(call.ctx.store, call.user.id, source.folderId);
      const original = folder && source.itemId ? await call.ctx.store.getMessage(call.user.id, source.itemId) : null;
      if (!folder || !original || original.folderId !== folder.id) return fail(150);
      if (kind === 'SmartForward' && !replaceMime) raw = attachOriginal(raw, await call.ctx.store.readBlob(original.blobHash));
    }
    try {
      await submitMessage(call.ctx, call.user, { from, to, raw, saveToSent: saveInSent });
    } catch (err) {
      if (err instanceof SmtpReply) {
        call.session.touch();
        // 5.7.1 a sender that is not the user's; 5.1.1 no such local mailbox; otherwise the submission failed
        return fail(err.enhanced === '5.3.4' ? 122 : 120);
      }
      throw err;
    }
    return {};
  };
}

/** The device's message with the original as a message/rfc822 attachment (a forward "as attachment"). */
function attachOriginal(raw: Buffer, original: Buffer): Buffer {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end < 0 ? text : text.slice(0, end)).split(/\r?\n(?![ \t])/);
  const bodyStart = end < 0 ? raw.length : end + (text.slice(end).startsWith('\r\n\r\n') ? 4 : 2);
  const content = head.filter((f) => /^content-/i.test(f));
  const rest = head.filter((f) => !/^(content-|mime-version)/i.test(f));
  const boundary = `----=_mw_fwd_${Date.now().toString(36)}`;
  return Buffer.concat([
    Buffer.from([...rest, 'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="${boundary}"`, '', `--${boundary}`, ...(content.length ? content : ['Content-Type: text/plain; charset=utf-8']), '', ''].join('\r\n'), 'latin1'),
    raw.subarray(bodyStart),
    Buffer.from(`\r\n--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="forwarded.eml"\r\n\r\n`),
    original,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}
