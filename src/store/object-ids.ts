/**
 * Stable opaque ids at the store's edge (RFC 8474 OBJECTID syntax: letters, digits, `-`, `_`;
 * also valid JMAP ids). Backends keep a number per object, never reused (not a SQLite rowid,
 * which a delete of the newest row frees for the next insert); these functions are the one
 * place where numbers become strings and back.
 *
 * - message id (`M…`): one message in one folder. Kept by MOVE (and by the RFC 3501 INBOX
 *   rename, which moves INBOX's messages), new for COPY: after a COPY there are two messages,
 *   flagged, moved and deleted independently (EWS ItemId, ActiveSync ServerId, web mail).
 * - email id (`E…`): RFC 8474 EMAILID / JMAP Email id, the message's content. Kept by MOVE
 *   *and* COPY (RFC 8474 5.1: the destination message in the COPYUID pairing has the source's
 *   EMAILID), new for APPEND and delivery (identical bytes delivered twice are two emails).
 * - thread id (`T…`): RFC 8474 THREADID / JMAP Thread id, shared by the messages of one
 *   conversation (threads.ts), kept by MOVE and COPY.
 * - mailbox id (`F…`): RFC 8474 MAILBOXID, kept across RENAME; a deleted folder's id is never
 *   given to a new one. Renaming INBOX creates a new mailbox (new id) and INBOX keeps its own.
 * - change state: an account's position in its change history (Store.changesSince).
 */

export type ObjectKind = 'message' | 'email' | 'thread' | 'mailbox' | 'state';

const PREFIX: Record<ObjectKind, string> = { message: 'M', email: 'E', thread: 'T', mailbox: 'F', state: 'S' };
const PATTERN = /^[METFS][0-9a-z]{1,11}$/;

export function toObjectId(kind: ObjectKind, n: number): string {
  return PREFIX[kind] + n.toString(36);
}

/** The number behind an id of the given kind, or null for anything else (never throws: ids come from clients). */
export function fromObjectId(kind: ObjectKind, id: unknown): number | null {
  if (typeof id !== 'string' || !PATTERN.test(id) || id[0] !== PREFIX[kind]) return null;
  const n = parseInt(id.slice(1), 36);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Whether a client-given string could be a message id (for request validation at the edge). */
export const MESSAGE_ID_PATTERN = /^M[0-9a-z]{1,11}$/;
