/**
 * Reading one stored message for FETCH and SEARCH: bytes and MIME structure (computed at
 * delivery, parsed again only for messages stored before that), plus the content
 * transfer decoding BINARY needs.
 */
import type { Store } from '../../store/store.js';
import type { MessageSummary } from '../../store/types.js';
import { parseMessage, type MessageStructure, type MimePart } from '../../mime/structure.js';

export interface LoadedMessage {
  raw: Buffer;
  structure: MessageStructure;
}

export async function loadMessage(store: Store, m: MessageSummary): Promise<LoadedMessage> {
  return { raw: await store.readBlob(m.blobHash), structure: await loadStructure(store, m) };
}

/** Just the structure (ENVELOPE/BODYSTRUCTURE need no bytes when it was stored). */
export async function loadStructure(store: Store, m: MessageSummary): Promise<MessageStructure> {
  const json = await store.readStructure(m.blobHash);
  if (json) {
    try {
      return JSON.parse(json) as MessageStructure;
    } catch {
      // fall through to parsing the bytes
    }
  }
  return parseMessage(await store.readBlob(m.blobHash));
}

/** The body part at a part path (1-based numbers), as BODY[1.2] numbers them; null if absent. */
export function findPart(msg: MessageStructure, path: number[]): MimePart | null {
  let list: MimePart[] = msg.root.parts ?? [msg.root];
  let target: MimePart | null = null;
  for (const n of path) {
    target = list[n - 1] ?? null;
    if (!target) return null;
    list = target.parts ?? (target.message ? (target.message.root.parts ?? [target.message.root]) : []);
  }
  return target;
}

/** Content-Transfer-Encoding removed (RFC 3516 BINARY); null for an encoding we do not know. */
export function decodeTransfer(body: Buffer, encoding: string): Buffer | null {
  switch (encoding.toLowerCase()) {
    case '7bit':
    case '8bit':
    case 'binary':
    case '':
      return body;
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return null;
  }
}

function hex(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 2045 6.7; malformed escapes are kept as they are rather than refused. */
function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    let j = i + 1;
    while (body[j] === 0x20 || body[j] === 0x09) j++;
    if (body[j] === 0x0d && body[j + 1] === 0x0a) {
      i = j + 1; // soft line break
      continue;
    }
    if (body[j] === 0x0a || j >= body.length) {
      i = j;
      continue;
    }
    const h = hex(body[i + 1]);
    const l = hex(body[i + 2]);
    if (h >= 0 && l >= 0) {
      out[n++] = h * 16 + l;
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}
