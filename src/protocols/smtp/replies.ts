import type { SMTPServer } from 'smtp-server';

/**
 * An SMTP refusal with its RFC 3463 enhanced status code. smtp-server derives the enhanced
 * code of a handler error from the reply code alone (554 -> 5.6.0, 553 -> 5.1.3), which is
 * wrong for a relay refusal (5.7.1) or an oversize message (5.3.4); `withEnhancedCodes`
 * lets an error that carries its own code keep it.
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

const OWN_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * Makes a connection's replies whose text already starts with an enhanced code go out
 * without the library's guess in front. Relies on SMTPConnection.send(code, data, context)
 * (typed in smtp-server's declarations); context false means "add no enhanced code".
 */
export function withEnhancedCodes(server: SMTPServer, sessionId: string, authNeedsTls = false): void {
  for (const conn of server.connections) {
    if (conn.id !== sessionId) continue;
    const send = conn.send.bind(conn);
    conn.send = (code, data, context) => {
      // RFC 3207 names 530 for AUTH before STARTTLS; the library answers with a non-standard 538.
      // AUTH before STARTTLS (RFC 3207 4): 530, whether the library answers 538 (AUTH offered)
      // or 500 (AUTH hidden for this session until TLS, see server.ts).
      if (code === 538 || (authNeedsTls && code === 500 && context === 'AUTH' && !conn.secure)) {
        return send(530, '5.7.0 Must issue a STARTTLS command first', false);
      }
      if (typeof data === 'string' && OWN_CODE.test(data) && data[0] === String(code)[0]) return send(code, data, false);
      return send(code, data, context);
    };
    return;
  }
}

/** Short, single-line and printable: for replies, headers and logs built from client input. */
export function oneLine(s: string, max = 200): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, max);
}
