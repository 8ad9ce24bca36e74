import type { ParsedCommand } from '../parser/command-parser.js';
import type { ImapSession, ImapState } from '../session.js';

/** A tagged OK with an RFC 5530/3501 response code, kept apart from the text. */
export interface ImapOk {
  code?: string;
  text: string;
}

/** A command handler returns its tagged OK (plain text, or code and text) or throws. */
export type Handler = (s: ImapSession, cmd: ParsedCommand) => Promise<string | ImapOk | void>;

export interface CommandSpec {
  states: ImapState[];
  run: Handler;
  /**
   * Asked before the server invites a synchronising literal of this command (its arguments so
   * far): throws the NO/BAD that answers the command now, so the client need not send data
   * that would be refused (APPEND to a missing mailbox: RFC 3501 6.3.11, 7.5).
   */
  beforeLiteral?: (s: ImapSession, cmd: ParsedCommand) => Promise<void>;
  /** FETCH, STORE, SEARCH by sequence number: pending EXPUNGEs wait (RFC 3501 7.4.1). */
  noExpunge?: boolean;
}

export const ANY: ImapState[] = ['notauth', 'auth', 'selected'];
export const AUTHED: ImapState[] = ['auth', 'selected'];
export const SELECTED: ImapState[] = ['selected'];
export const NOTAUTH: ImapState[] = ['notauth'];
