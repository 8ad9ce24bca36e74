// STARTTLS, LOGIN, AUTHENTICATE (PLAIN, LOGIN; SASL-IR) and the governed logon behind them.
import { sleep } from '../../../access/auth-guard.js';
import { refusalText } from '../../../access/connection-limits.js';
import { TooManyObjectsOpened } from '../../../governor/errors.js';
import { expectArgs, atomArg, stringArg } from '../args.js';
import { bad, no } from '../errors.js';
import { capabilityList } from '../capabilities.js';
import type { ImapSession } from '../session.js';
import { NOTAUTH, type CommandSpec } from './types.js';

/**
 * The response code for a logon refused for a reason other than the credentials (store
 * session limit, MaxConnectionsPerUser, throttling, lockout): RFC 5530 UNAVAILABLE ("the
 * server is temporarily unable to log this user in"), not LIMIT or AUTHENTICATIONFAILED.
 * Clients tell it apart from a wrong password: Thunderbird shows the server's text in an
 * alert instead of offering "Enter New Password" (README, "What a client shows at the limit").
 * LIMIT stays for the per-session object limits of an authenticated session (errors.ts).
 */
const REFUSED_NOT_CREDENTIALS = 'UNAVAILABLE';

/**
 * SPEC 3.5, in order: password (with the auth guard's delay), the protocol and throttling
 * layers (admitUser), then the store session (governor). Any refusal leaves the client in
 * the not-authenticated state with every counter it touched released.
 */
async function logon(s: ImapSession, identity: string, password: string): Promise<string> {
  const { ctx } = s;
  const ip = s.conn.remoteAddress;
  await ctx.settings.refresh();
  const locked = ctx.authGuard.lockedFor(ip);
  if (locked > 0) throw no(`Logons from ${ip} are refused for ${Math.ceil(locked / 1000)} more seconds after repeated failures`, REFUSED_NOT_CREDENTIALS);
  const user = await ctx.store.verifyPassword(identity, password);
  if (!user) {
    await sleep(await ctx.authGuard.failed(ip, 'imap', identity));
    throw no('Authentication failed', 'AUTHENTICATIONFAILED');
  }
  ctx.authGuard.succeeded(ip);
  const admitted = ctx.connections.imap.admitUser(user);
  if (!admitted.ok) {
    const r = admitted.refusal;
    const event = r.layer === 'protocol'
      ? ctx.events.write('imapConnectionLimit', [r.setting, r.count, r.limit, r.scope, ip], user.address)
      : ctx.events.write('throttlingLimit', [user.address, r.setting, r.count, r.limit, 'IMAP4'], user.address);
    await event.catch(() => undefined);
    throw no(refusalText(r), REFUSED_NOT_CREDENTIALS);
  }
  let session;
  try {
    session = await ctx.governor.open({ user, kind: 'imap', clientAddress: ip, clientInfo: s.clientInfo });
  } catch (err) {
    admitted.release();
    // the store session limit: NO [UNAVAILABLE] Server Unavailable. 15: 16 of 16 service sessions in use for …
    if (err instanceof TooManyObjectsOpened) throw no(err.clientText, REFUSED_NOT_CREDENTIALS);
    throw err;
  }
  if (s.isFinished) {
    // the client left while the session was being opened: give it back at once
    await session.close('drop');
    admitted.release();
    throw no('Connection closed');
  }
  s.loggedIn(user, session, admitted.release);
  return `[CAPABILITY ${capabilityList(s)}] ${user.address} authenticated`;
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

async function authPlain(s: ImapSession, initial: string | null): Promise<string> {
  const data = initial !== null ? decodeSasl(initial) : await saslResponse(s, '');
  const parts = data.toString('utf8').split('\0');
  if (parts.length !== 3) throw bad('Invalid PLAIN response');
  const [authz, authc, password] = parts as [string, string, string];
  // acting for another user (SASL authorization identity) is not offered
  if (authz && authz.toLowerCase() !== authc.toLowerCase()) throw no('Authorization identity must match', 'AUTHORIZATIONFAILED');
  return logon(s, authc, password);
}

async function authLogin(s: ImapSession, initial: string | null): Promise<string> {
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
