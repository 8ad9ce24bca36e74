/**
 * Every error the store raises, as one kind each. Front ends turn a kind into their
 * protocol's answer (IMAP response code, POP3 code, SMTP reply, HTTP status) in one place.
 */
export type StoreErrorKind =
  | 'not-found'
  | 'exists'
  | 'invalid'
  | 'over-quota'
  | 'not-a-mailwarden-database'
  | 'corrupt'
  | 'read-only'
  | 'in-use'
  /** The backend is busy or locked (SQLITE_BUSY/LOCKED, a lost connection): the same call may succeed later. */
  | 'unavailable'
  /** Store.changesSince: the state is not one of this account's, or older than the history kept. */
  | 'cannot-calculate-changes';

export class StoreError extends Error {
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
