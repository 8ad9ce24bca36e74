import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
// RFC 3464 reports as the DSN tests read them (test/transport/dsn*.test.ts).

/** The fields of a message/delivery-status part: the per-message group, then one per recipient. */
function statusGroups(text: string): Array<Record<string, string>> {
  return text.replace(/\r\n[ \t]+/g, ' ').split(/\r?\n\r?\n/).filter((g) => g.trim()).map((g) =>
    Object.fromEntries(g.split(/\r?\n/).filter(Boolean).map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
    })),
  );
}

export interface ParsedDsn {
  subject: string;
  perMessage: Record<string, string>;
  recipients: Array<Record<string, string>>;
  /** Content type of the returned original: message/rfc822 (whole) or text/rfc822-headers. */
  returned: string;
  returnedText: string;
}

/**
 * An RFC 3464 report: the header as a mail client reads it (mailparser), the parts by the
 * boundary (mailparser folds message/delivery-status into the text body).
 */
export async function parseDsn(raw: Buffer): Promise<ParsedDsn> {
  const m = await simpleParser(raw);
  const type = m.headers.get('content-type') as { value: string; params: Record<string, string> };
  assert.equal(type.value, 'multipart/report');
  assert.equal(type.params['report-type'], 'delivery-status');
  const text = raw.toString('utf8');
  const parts = text.split(`--${type.params['boundary']}`).slice(1, -1).map((p) => {
    const body = p.replace(/^\r\n/, '');
    const end = body.indexOf('\r\n\r\n');
    const head = body.slice(0, end);
    return { type: /^content-type:\s*([^;\r\n]+)/im.exec(head)?.[1]?.trim().toLowerCase() ?? 'text/plain', content: body.slice(end + 4) };
  });
  assert.equal(parts[0]?.type, 'text/plain', 'the human-readable part first');
  const status = parts.find((p) => p.type === 'message/delivery-status');
  assert.ok(status, 'a message/delivery-status part');
  const [perMessage, ...recipients] = statusGroups(status.content);
  const original = parts.find((p) => p.type === 'message/rfc822' || p.type === 'text/rfc822-headers');
  assert.ok(original, 'the original (or its header) is returned');
  return { subject: m.subject ?? '', perMessage: perMessage!, recipients, returned: original.type, returnedText: original.content };
}
