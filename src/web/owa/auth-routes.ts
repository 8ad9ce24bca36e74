import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { sleep } from '../../access/auth-guard.js';
import type { User } from '../../store/types.js';
import { cookies, CSRF_COOKIE, requireSession, SESSION_COOKIE, setCookies, type OwaDeps } from './api-context.js';
import { HttpError, OwaProblem } from './errors.js';
import { token, type WebSession } from './sessions.js';

const Login = z.object({ address: z.string().min(1).max(320), password: z.string().min(1).max(1024) });

function me(s: WebSession) {
  const u = s.user;
  return { address: u.address, displayName: u.displayName, isAdmin: u.isAdmin, sessionId: s.store.id };
}

/**
 * Sign-ins of one user run one at a time, so that the throttling check (count, then open)
 * cannot be passed by a burst of parallel sign-ins. The store limit itself is atomic in
 * the governor.
 */
function serialiser() {
  const locks = new Map<number, Promise<unknown>>();
  return <T>(userId: number, fn: () => Promise<T>): Promise<T> => {
    const next = (locks.get(userId) ?? Promise.resolve()).catch(() => undefined).then(fn);
    locks.set(userId, next);
    void next.catch(() => undefined).finally(() => {
      if (locks.get(userId) === next) locks.delete(userId);
    });
    return next;
  };
}

/** The access layers of SPEC §3.5 for web mail, in order: throttling (503 page), then the store session. */
async function openOwaSession(deps: OwaDeps, oneAtATime: ReturnType<typeof serialiser>, req: FastifyRequest, user: User): Promise<WebSession> {
  const { ctx } = deps;
  return oneAtATime(user.id, async () => {
    await ctx.settings.refresh();
    const setting = 'ThrottlingPolicy.OWAMaxConcurrency';
    const limit = ctx.settings.int(setting, { userId: user.id, databaseId: user.databaseId });
    const count = (await ctx.governor.counts(user.id)).byKind.owa ?? 0;
    if (limit > 0 && count >= limit) {
      await ctx.events.write('throttlingLimit', [user.address, setting, count, limit, 'OWA'], user.address).catch(() => undefined);
      throw new OwaProblem(503, 'ThrottlingPolicyLimitExceededException',
        `${setting}: ${count} of ${limit} concurrent web mail sessions in use for ${user.address}. Sign out elsewhere or try again later.`,
        { limitName: setting, limit, count, user: user.address }, 60);
    }
    const store = await ctx.governor.open({
      user, kind: 'owa', clientAddress: req.ip, clientInfo: String(req.headers['user-agent'] ?? '').slice(0, 200) || null,
    });
    return deps.sessions.add(user, store);
  });
}

export function authRoutes(app: FastifyInstance, deps: OwaDeps): void {
  const { ctx, sessions } = deps;
  const oneAtATime = serialiser();

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
    const ip = req.ip;
    const locked = ctx.authGuard.lockedFor(ip);
    if (locked > 0) {
      reply.header('retry-after', String(Math.ceil(locked / 1000)));
      throw new HttpError(429, `Too many failed sign-ins from ${ip}; try again in ${Math.ceil(locked / 1000)} seconds.`, 'locked');
    }
    const user = await ctx.store.verifyPassword(body.address.trim(), body.password);
    if (!user) {
      await sleep(await ctx.authGuard.failed(ip, 'owa', body.address));
      throw new HttpError(401, 'The user name or password you entered isn\'t correct.', 'auth');
    }
    ctx.authGuard.succeeded(ip);
    // a second sign-in from the same browser replaces the first rather than leaking it
    const old = sessions.get(cookies(req)[SESSION_COOKIE], false);
    if (old) await sessions.end(old, 'logout');
    const s = await openOwaSession(deps, oneAtATime, req, user);
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
