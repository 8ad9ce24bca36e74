import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { LOGON_ANSWERS } from '../../access/answers.js';
import { logon } from '../../access/logon.js';
import { cookies, CSRF_COOKIE, requireSession, SESSION_COOKIE, setCookies, type OwaDeps } from './api-context.js';
import { httpAnswerError } from './errors.js';
import { token, type WebSession } from './sessions.js';

const Login = z.object({ address: z.string().min(1).max(320), password: z.string().min(1).max(1024) });

function me(s: WebSession) {
  const u = s.user;
  return { address: u.address, displayName: u.displayName, isAdmin: u.isAdmin, sessionId: s.store.id };
}

export function authRoutes(app: FastifyInstance, deps: OwaDeps): void {
  const { ctx, sessions } = deps;

  /** Who is signed in; also hands out the CSRF cookie the sign-in form needs. */
  app.get('/api/session', async (req, reply) => {
    const jar = cookies(req);
    const s = sessions.get(jar[SESSION_COOKIE]);
    if (s) {
      setCookies(reply, s.id, s.csrf);
      return { signedIn: true, user: me(s), csrf: s.csrf };
    }
    const csrf = jar[CSRF_COOKIE] && /^[\w-]{20,100}$/.test(jar[CSRF_COOKIE]) ? jar[CSRF_COOKIE] : token();
    setCookies(reply, null, csrf);
    return { signedIn: false, csrf, reason: jar[SESSION_COOKIE] ? sessions.endReason(jar[SESSION_COOKIE]) ?? null : null };
  });

  app.post('/api/login', async (req, reply) => {
    const body = Login.parse(req.body);
    // the access pipeline: guard, password, throttling, store session (src/access/logon.ts)
    const r = await logon(ctx, {
      kind: 'owa', identity: body.address.trim(), password: body.password, clientAddress: req.ip,
      clientInfo: String(req.headers['user-agent'] ?? '').slice(0, 200) || null,
      log: req.log,
      // a second sign-in from the same browser replaces the first rather than counting twice
      authenticated: async () => {
        const old = sessions.get(cookies(req)[SESSION_COOKIE], false);
        if (old) await sessions.end(old, 'logout');
      },
    });
    if (!r.ok) throw httpAnswerError(LOGON_ANSWERS[r.refusal.kind].http(r.refusal));
    const s = await sessions.add(r.user, r.session!);
    req.log = req.log.child({ session: s.store.id });
    // however it ends (sign out, idle, lifetime, admin kill, shutdown), as IMAP and POP3 sessions log theirs
    const sessionLog = ctx.log.child({ frontend: 'web', session: s.store.id });
    s.store.onEnd((reason) => sessionLog.info({ reason }, 'session ended'));
    setCookies(reply, s.id, s.csrf);
    return { signedIn: true, user: me(s), csrf: s.csrf };
  });

  app.post('/api/logout', async (req, reply) => {
    const s = requireSession(deps, req);
    await sessions.end(s, 'logout');
    setCookies(reply, null, token());
    return { signedIn: false };
  });
}
