import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../server/context.js';
import { z } from 'zod';
import { HttpError } from './errors.js';
import { MESSAGE_ID_PATTERN } from '../../store/object-ids.js';
import type { PageCache } from './page-cache.js';
import { sameToken, type WebSession, type WebSessions } from './sessions.js';

/** What every route file is given. */
export interface OwaDeps {
  ctx: ServerContext;
  sessions: WebSessions;
  /** Serialised list pages, valid while their folder is unchanged. */
  pages: PageCache;
}

/**
 * `__Host-` cookies must be Secure, have Path=/ and no Domain, so another host under the
 * same domain cannot plant or overwrite them (a weakness of plain double-submit cookies).
 */
export const SESSION_COOKIE = '__Host-mw-owa';
export const CSRF_COOKIE = '__Host-mw-csrf';

export function cookies(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** The session cookie is HttpOnly (scripts never see it); the CSRF cookie is read by the app. */
export function setCookies(reply: FastifyReply, session: string | null, csrf: string): void {
  const common = 'Path=/; Secure; SameSite=Strict';
  reply.header('set-cookie', [
    session ? `${SESSION_COOKIE}=${session}; ${common}; HttpOnly` : `${SESSION_COOKIE}=; ${common}; HttpOnly; Max-Age=0`,
    `${CSRF_COOKIE}=${csrf}; ${common}`,
  ]);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Double-submit CSRF check for every state-changing request: the x-csrf-token header must
 * equal the CSRF cookie, and, once signed in, the session's own token. A page on another
 * site can neither read the cookie nor set the header.
 */
export function checkCsrf(deps: OwaDeps, req: FastifyRequest): void {
  if (SAFE_METHODS.has(req.method)) return;
  const header = req.headers['x-csrf-token'];
  const given = typeof header === 'string' ? header : undefined;
  const jar = cookies(req);
  if (!sameToken(given, jar[CSRF_COOKIE])) throw new HttpError(403, 'missing or wrong CSRF token (x-csrf-token)', 'csrf');
  const s = deps.sessions.get(jar[SESSION_COOKIE], false);
  if (s && !sameToken(given, s.csrf)) throw new HttpError(403, 'CSRF token does not belong to this session', 'csrf');
}

/** The signed-in session, or 401 saying why it is gone (signed out, timed out, ended by an administrator). */
export function requireSession(deps: OwaDeps, req: FastifyRequest): WebSession {
  const id = cookies(req)[SESSION_COOKIE];
  const s = deps.sessions.get(id);
  if (s) {
    // from here on every line this request logs names the store session (as IMAP and POP3 lines do)
    req.log = req.log.child({ session: s.store.id });
    return s;
  }
  const reason = deps.sessions.endReason(id);
  const why = reason === 'killed' ? 'Your session was ended by an administrator.'
    : reason === 'timeout' ? 'You were signed out because the session was idle.'
    : reason === 'reclaimed' ? 'You were signed out because the session was idle when you signed in elsewhere at the session limit.'
    : reason === 'shutdown' ? 'The server was restarted.' : 'Please sign in.';
  throw new HttpError(401, why, reason ? `signed-out:${reason}` : 'signed-out');
}

export function requireAdmin(deps: OwaDeps, req: FastifyRequest): WebSession {
  const s = requireSession(deps, req);
  if (!s.user.isAdmin) throw new HttpError(403, 'administrators only', 'forbidden');
  return s;
}

/** Route params and query values as positive integers, or 400. */
export function intParam(v: unknown, name: string): number {
  const n = typeof v === 'string' && /^[0-9]{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new HttpError(400, `${name} must be a whole number`);
  return n;
}

/** Message ids in request bodies: the store's stable opaque ids (kept across moves), never row numbers. */
export const MessageId = z.string().regex(MESSAGE_ID_PATTERN);

/** A message id from a URL: the store's opaque id (object-ids.ts), or 400. */
export function messageParam(v: unknown): string {
  if (typeof v !== 'string' || !MESSAGE_ID_PATTERN.test(v)) throw new HttpError(400, 'not a message id');
  return v;
}
