import { StoreError } from '../../store/errors.js';
import { TooManyObjectsOpened } from '../../governor/errors.js';
import { ImapParseError } from './parser/command-parser.js';
import { UnsupportedCharsetError } from './parser/search-keys.js';

/** A tagged failure a handler raises on purpose: BAD for syntax/state, NO for refusals. */
export class ImapError extends Error {
  constructor(
    readonly status: 'NO' | 'BAD',
    message: string,
    /** RFC 5530 response code without brackets, e.g. "NONEXISTENT", "LIMIT". */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ImapError';
  }
}

export const bad = (text: string, code?: string) => new ImapError('BAD', text, code);
export const no = (text: string, code?: string) => new ImapError('NO', text, code);

const STORE_CODES: Record<StoreError['kind'], string> = {
  'not-found': 'NONEXISTENT',
  exists: 'ALREADYEXISTS',
  invalid: 'CANNOT',
  'over-quota': 'OVERQUOTA',
  'not-a-mailwarden-database': 'SERVERBUG',
  corrupt: 'SERVERBUG',
  'read-only': 'UNAVAILABLE',
  'in-use': 'INUSE',
  'cannot-calculate-changes': 'CANNOT',
};

/**
 * The one place where any error becomes an IMAP status, response code and text, so every
 * command answers the same failure the same way (SPEC 3.5 for the governor's limits).
 */
export function toImapFailure(err: unknown): { status: 'NO' | 'BAD'; code?: string; text: string } {
  if (err instanceof ImapError) return { status: err.status, code: err.code, text: err.message };
  if (err instanceof TooManyObjectsOpened) return { status: 'NO', code: 'LIMIT', text: err.clientText };
  if (err instanceof StoreError) return { status: 'NO', code: STORE_CODES[err.kind], text: oneLine(err.message) };
  if (err instanceof ImapParseError) {
    // an unsupported CHARSET is a refusal, not a syntax error (RFC 3501 6.4.4)
    const status = err instanceof UnsupportedCharsetError ? 'NO' : 'BAD';
    const m = /^\[([^\]]+)\] (.*)$/.exec(err.message);
    return m ? { status, code: m[1], text: oneLine(m[2]!) } : { status, text: oneLine(err.message) };
  }
  // Exchange's phrase for an unhandled server error, so admins can match the symptom.
  return { status: 'NO', code: 'SERVERBUG', text: 'Server Unavailable. 15: internal error' };
}

/** Response text must stay on one line and in 7-bit: a CR/LF would end the response early. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 400);
}
