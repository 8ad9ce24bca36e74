/**
 * Reading one stored message for FETCH and SEARCH: bytes and MIME structure (computed at
 * delivery, parsed again only for messages stored before that), and its body parts.
 */
import type { Store } from '../../store/store.js';
import type { MessageSummary, StoredMessage } from '../../store/types.js';
import { parseMessage, type MessageStructure, type MimePart } from '../../mime/structure.js';

export interface LoadedMessage {
  raw: Buffer;
  structure: MessageStructure;
}

export async function loadMessage(store: Store, m: MessageSummary): Promise<LoadedMessage> {
  return { raw: await store.readBlob(m.blobHash), structure: await loadStructure(store, m) };
}

/** The structure of a message read by Store.getMessages (with `structure`, and `raw` if the bytes are wanted too). */
export async function structureOf(store: Store, m: StoredMessage): Promise<MessageStructure> {
  if (m.structure) {
    try {
      return JSON.parse(m.structure) as MessageStructure;
    } catch {
      // fall through to parsing the bytes
    }
  }
  return parseMessage(m.raw ?? (await store.readBlob(m.blobHash)));
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
