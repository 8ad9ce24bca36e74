/**
 * An element tree as XML text, the way libwbxml's `wbxml2xml` names namespaces (`xmlns="AirSync:"`
 * on the root, each element of another page with its own `xmlns`): for logs, and for the tests
 * that hand the same document to `xml2wbxml`. Opaque data is written as base64 — it has no XML
 * form that libwbxml would turn back into OPAQUE, so documents with it are compared another way.
 */
import type { WbxmlElement } from './codec.js';

/** Where libwbxml 0.11 spells a tag otherwise than MS-ASWBXML (the token is the same). */
const LIBWBXML_NAMES: Record<string, string> = { 'Email:ReplyTo': 'Reply-To', 'Email:DtStamp': 'DTStamp', 'ComposeMail:Mime': 'MIME' };

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function toXml(root: WbxmlElement): string {
  const out: string[] = ['<?xml version="1.0" encoding="utf-8"?>', '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">'];
  const write = (e: WbxmlElement, parentPage: string | null) => {
    const ns = e.page !== parentPage ? ` xmlns="${e.page}:"` : '';
    const tag = LIBWBXML_NAMES[`${e.page}:${e.tag}`] ?? e.tag;
    const inner = e.children.map((c) => (typeof c === 'string' ? escape(c) : Buffer.isBuffer(c) ? c.toString('base64') : null));
    if (!e.children.length) {
      out.push(`<${tag}${ns}/>`);
      return;
    }
    out.push(`<${tag}${ns}>`);
    e.children.forEach((c, i) => {
      if (typeof c === 'string' || Buffer.isBuffer(c)) out.push(inner[i]!);
      else write(c, e.page);
    });
    out.push(`</${tag}>`);
  };
  write(root, null);
  return out.join('');
}
