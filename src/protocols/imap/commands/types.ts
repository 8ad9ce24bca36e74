import type { ParsedCommand } from '../parser/command-parser.js';
import type { ImapSession, ImapState } from '../session.js';

/** A command handler returns the text of its tagged OK ("[CODE] text" allowed) or throws. */
export type Handler = (s: ImapSession, cmd: ParsedCommand) => Promise<string | void>;

export interface CommandSpec {
  states: ImapState[];
  run: Handler;
  /** FETCH, STORE, SEARCH by sequence number: pending EXPUNGEs wait (RFC 3501 7.4.1). */
  noExpunge?: boolean;
}

export const ANY: ImapState[] = ['notauth', 'auth', 'selected'];
export const AUTHED: ImapState[] = ['auth', 'selected'];
export const SELECTED: ImapState[] = ['selected'];
export const NOTAUTH: ImapState[] = ['notauth'];
