import { StoreError } from '../../store/errors.js';
import { OBJECT_LIMIT_ANSWERS, STORE_ERROR_ANSWERS } from '../../access/answers.js';
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

/**
 * The one place where any error becomes an IMAP status (the codes from access/answers.ts), response code and text, so every
 * command answers the same failure the same way (SPEC 3.5 for the governor's limits).
 */
export function toImapFailure(err: unknown): { status: 'NO' | 'BAD'; code?: string; text: string } {
  if (err instanceof ImapError) return { status: err.status, code: err.code, text: err.message };
  if (err instanceof TooManyObjectsOpened) return OBJECT_LIMIT_ANSWERS.imap(err);
  if (err instanceof StoreError) return { status: 'NO', code: STORE_ERROR_ANSWERS[err.kind].imap, text: oneLine(err.message) };
  if (err instanceof ImapParseError) {
    // an unsupported CHARSET is a refusal, not a syntax error (RFC 3501 6.4.4)
    return { status: err instanceof UnsupportedCharsetError ? 'NO' : 'BAD', code: err.code, text: oneLine(err.message) };
  }
  // Exchange's phrase for an unhandled server error, so admins can match the symptom.
  return { status: 'NO', code: 'SERVERBUG', text: 'Server Unavailable. 15: internal error' };
}

/** Response text must stay on one line and in 7-bit: a CR/LF would end the response early. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 400);
}
