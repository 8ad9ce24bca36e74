import type { ObjectType, SessionKind } from '../settings/catalog.js';

export type LimitedObject = 'session' | ObjectType;

/**
 * A store limit refused an open. Carries everything a client message, an event and a
 * metric need; each front end maps it to its protocol's answer in one function.
 */
export class TooManyObjectsOpened extends Error {
  override readonly name = 'TooManyObjectsOpened';
  /** The exception type OWA shows under "Show details". */
  static readonly exceptionType = 'TooManyObjectsOpenedException';

  constructor(
    readonly user: string,
    readonly dn: string,
    readonly objectType: LimitedObject,
    readonly limit: number,
    readonly count: number,
    /** The setting that sets this limit, e.g. "Maximum Allowed Service Sessions Per User". */
    readonly limitName: string,
    /** What was counted, in plain words: "service sessions", "sessions", "imap sessions", "objtMessage objects". */
    readonly counted: string,
    readonly kind?: SessionKind,
  ) {
    super(`Server Unavailable. 15: ${count} of ${limit} ${counted} in use for ${user}`);
  }

  /** The text after a protocol's response code: the original's phrase, then the real reason. */
  get clientText(): string {
    return this.message;
  }
}
