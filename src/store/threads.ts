/**
 * RFC 8474 THREADID, assigned when a message is stored, as the email id is (object-ids.ts): a new
 * message whose References / In-Reply-To (mime/sort-facts.ts) names the Message-ID of one of the
 * user's messages, in any folder, joins that message's thread; otherwise it starts one, numbered
 * by its own object id (unique store-wide, never reused). MOVE and COPY carry the thread.
 * Threads never merge afterwards: a parent that arrives after its reply starts its own thread
 * (merging would change ids clients already hold; RFC 8474 5.2 lets a server not merge).
 *
 * The lookup is one index probe on messages.thread_key, "<user id> <Message-ID>": the user is
 * in the key because `messages` has no user column, and a Message-ID delivered to a list's
 * thousand members would otherwise make each member's lookup walk the thousand rows.
 */

/** The messages.thread_key of a Message-ID (without angle brackets) of this user's message. */
export function threadKey(userId: number, messageId: string): string {
  return `${userId} ${messageId}`;
}

/** At most this many References are looked up (the nearest ancestors: the list ends with the parent). */
export const THREAD_REFERENCES_LOOKED_UP = 20;

/** The References to look up, as keys, nearest ancestor first. */
export function referenceKeys(userId: number, references: readonly string[]): string[] {
  return references.slice(-THREAD_REFERENCES_LOOKED_UP).reverse().map((r) => threadKey(userId, r));
}
