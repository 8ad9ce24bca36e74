// STARTTLS, LOGIN, AUTHENTICATE (PLAIN, LOGIN; SASL-IR); the logon itself is the access pipeline's.
import { LOGON_ANSWERS } from '../../../access/answers.js';
import { logon as pipelineLogon } from '../../../access/logon.js';
import { expectArgs, atomArg, stringArg } from '../args.js';
import { bad, no } from '../errors.js';
import { capabilityList } from '../capabilities.js';
import type { ImapSession } from '../session.js';
import { NOTAUTH, type CommandSpec, type ImapOk } from './types.js';

/**
 * Logs on through the access pipeline (src/access/logon.ts). A refusal leaves the client in
 * the not-authenticated state with every counter the pipeline touched released, and answers
 * from the one table (answers.ts): NO [AUTHENTICATIONFAILED] for credentials, NO [UNAVAILABLE]
 * for the server's limits.
 */
async function logon(s: ImapSession, identity: string, password: string): Promise<ImapOk> {
  const r = await pipelineLogon(s.ctx, { kind: 'imap', identity, password, clientAddress: s.conn.remoteAddress, clientInfo: s.clientInfo, log: s.logger });
  if (!r.ok) {
    const a = LOGON_ANSWERS[r.refusal.kind].imap(r.refusal);
    throw no(a.text, a.code);
  }
  const session = r.session!;
  if (s.isFinished) {
    // the client left while the session was being opened: give it back at once
    await session.close('drop');
    throw no('Connection closed');
  }
  s.loggedIn(r.user, session);
  return { code: `CAPABILITY ${capabilityList(s)}`, text: `${r.user.address} authenticated` };
}

function requirePrivacy(s: ImapSession): void {
  if (!s.loginAllowed()) throw no('Use STARTTLS (or the TLS port) before logging in', 'PRIVACYREQUIRED');
}

/** Reads one SASL response line from the client; "*" cancels (RFC 3501 6.2.2). */
async function saslResponse(s: ImapSession, challenge: string): Promise<Buffer> {
  s.write(`+ ${challenge}\r\n`);
  s.flush();
  const e = await s.conn.next();
  if (!e) throw no('Connection closed');
  if (e.type !== 'command' || e.literals.length) throw bad('Invalid SASL response');
  return decodeSasl(e.line.toString('latin1').trim());
}

function decodeSasl(text: string): Buffer {
  if (text === '*') throw bad('Authentication cancelled');
  if (text === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw bad('Invalid base64 in SASL response');
  return Buffer.from(text, 'base64');
}

async function authPlain(s: ImapSession, initial: string | null): Promise<ImapOk> {
  const data = initial !== null ? decodeSasl(initial) : await saslResponse(s, '');
  const parts = data.toString('utf8').split('\0');
  if (parts.length !== 3) throw bad('Invalid PLAIN response');
  const [authz, authc, password] = parts as [string, string, string];
  // acting for another user (SASL authorization identity) is not offered
  if (authz && authz.toLowerCase() !== authc.toLowerCase()) throw no('Authorization identity must match', 'AUTHORIZATIONFAILED');
  return logon(s, authc, password);
}

async function authLogin(s: ImapSession, initial: string | null): Promise<ImapOk> {
  const user = initial !== null ? decodeSasl(initial) : await saslResponse(s, Buffer.from('Username:').toString('base64'));
  const password = await saslResponse(s, Buffer.from('Password:').toString('base64'));
  return logon(s, user.toString('utf8'), password.toString('utf8'));
}

export const authCommands: Record<string, CommandSpec> = {
  STARTTLS: {
    states: NOTAUTH,
    run: async (s, c) => {
      expectArgs(c.args, 0);
      if (s.conn.secure) throw bad('TLS is already active');
      s.startTlsAfterReply = true;
      return 'Begin TLS negotiation now';
    },
  },
  LOGIN: {
    states: NOTAUTH,
    run: async (s, c) => {
      expectArgs(c.args, 2);
      requirePrivacy(s);
      return logon(s, stringArg(c.args[0], 'user name'), stringArg(c.args[1], 'password'));
    },
  },
  AUTHENTICATE: {
    states: NOTAUTH,
    run: async (s, c) => {
      expectArgs(c.args, 1, 2);
      const mech = atomArg(c.args[0], 'mechanism').toUpperCase();
      requirePrivacy(s);
      const initial = c.args[1] ? atomArg(c.args[1], 'initial response') : null;
      if (mech === 'PLAIN') return authPlain(s, initial);
      if (mech === 'LOGIN') return authLogin(s, initial);
      throw no(`Unsupported mechanism ${mech.slice(0, 30)}`, 'CANNOT');
    },
  },
};
