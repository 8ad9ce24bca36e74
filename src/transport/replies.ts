/**
 * An SMTP refusal with its RFC 3463 enhanced status code. smtp-server derives the enhanced
 * code of a handler error from the reply code alone (554 -> 5.6.0, 553 -> 5.1.3), which is
 * wrong for a relay refusal (5.7.1) or an oversize message (5.3.4); the SMTP front end's
 * `withEnhancedCodes` lets an error that carries its own code keep it. Web mail shows the
 * same refusal as text, so the class lives below both.
 */
export class SmtpReply extends Error {
  readonly responseCode: number;

  constructor(
    code: number,
    readonly enhanced: string,
    readonly text: string,
  ) {
    super(`${enhanced} ${text}`);
    this.responseCode = code;
    this.name = 'SmtpReply';
  }

  /** "550 5.1.1 text", as a client (and a DSN's Diagnostic-Code) sees it. */
  override toString(): string {
    return `${this.responseCode} ${this.message}`;
  }
}

/** Short, single-line and printable: for replies, headers and logs built from client input. */
export function oneLine(s: string, max = 200): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, max);
}
