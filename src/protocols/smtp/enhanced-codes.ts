import type { SMTPServer } from 'smtp-server';

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
