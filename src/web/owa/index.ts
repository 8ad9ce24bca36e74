import type { FastifyInstance } from 'fastify';
import { Transform } from 'node:stream';
import type { ServerContext } from '../../server/context.js';
import type { LiveSettings } from '../../settings/resolve.js';
import type { HttpPlugin } from '../http-server.js';
import { adminRoutes } from './admin-routes.js';
import { checkCsrf, cookies, SESSION_COOKIE, type OwaDeps } from './api-context.js';
import { authRoutes } from './auth-routes.js';
import { composeRoutes } from './compose-routes.js';
import { sendError } from './errors.js';
import { mailRoutes } from './mail-routes.js';
import { PageCache } from './page-cache.js';
import { pushRoutes } from './push.js';
import { WebSessions, type SessionTimes } from './sessions.js';
import { DEFAULT_UI_DIR, securityHeaders, serveUi } from './static.js';

/** Largest request body taken from a browser that is not signed in (the sign-in form is ~200 bytes). */
const ANONYMOUS_BODY_LIMIT = 64 * 1024;

function bodyTooLarge(): Error {
  return Object.assign(new Error(`a request body before sign-in may be at most ${ANONYMOUS_BODY_LIMIT} bytes`), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
}

/**
 * Memory for serialised message list pages (PageCache). A 100-row page is about 40 KiB, so
 * this keeps the recent pages of some 800 open folders; a page that fell out costs one rebuild.
 */
const LIST_PAGE_CACHE_BYTES = 32 * 1024 * 1024;

/** The web mail's state on the Fastify instance (tests reach the session table through it). */
export const OWA_DECORATION = 'mailwardenOwa';
export interface OwaState {
  sessions: WebSessions;
}

export interface OwaOptions {
  /** Built app (vite build output); dist/ui by default. */
  uiDir?: string;
  /** How often expired sessions are looked for (the times are settings: OwaSettings.SessionIdleTimeout, OwaSettings.SessionLifetime). */
  sweepMs?: number;
}

/**
 * Web mail under /owa: the built single page app and its JSON API under /owa/api.
 * One signed-in browser holds one 'owa' store session (SPEC §3.1); every exit path
 * (sign out, idle, expiry, admin kill, server close) releases it.
 */
export function createOwa(opts: OwaOptions = {}): HttpPlugin {
  return async (app: FastifyInstance, ctx: ServerContext) => {
    // registered once per server, even if both front-ends.ts and a test hand the plugin in
    if (app.hasDecorator(OWA_DECORATION)) return;
    const sessions = new WebSessions({
      times: () => sessionTimes(ctx.settings),
      refresh: () => ctx.settings.refresh(),
      sweepMs: opts.sweepMs ?? 30_000,
      state: ctx.state,
      clock: ctx.clock,
      adopt: async (storeSessionId, userId) => {
        const user = await ctx.store.getUser(userId);
        const store = user && (await ctx.governor.adopt(storeSessionId, user));
        return user && store ? { user, store } : null;
      },
    });
    const deps: OwaDeps = { ctx, sessions, pages: new PageCache(LIST_PAGE_CACHE_BYTES, ctx.changes) };
    app.decorate(OWA_DECORATION, { sessions });
    const streams = new Set<() => void>();
    const uiDir = opts.uiDir ?? DEFAULT_UI_DIR;

    await app.register(async (owa) => {
      owa.setErrorHandler((err, req, reply) => {
        const user = sessions.get(cookies(req)[SESSION_COOKIE], false)?.user.address ?? '';
        return sendError(err, req, reply, ctx.computer, user);
      });
      owa.addHook('onRequest', async (req, reply) => {
        if (!req.url.startsWith('/owa/api/')) return;
        await sessions.load(cookies(req)[SESSION_COOKIE]); // the shared state's view, before any route asks
        securityHeaders(reply);
        reply.header('cache-control', 'no-store');
        // a body announced too large for a browser that is not signed in is refused first, whatever
        // else is wrong with the request (the preParsing hook below counts bodies without a length)
        if (!sessions.get(cookies(req)[SESSION_COOKIE], false) && Number(req.headers['content-length'] ?? 0) > ANONYMOUS_BODY_LIMIT) throw bodyTooLarge();
        checkCsrf(deps, req);
      });
      // A body is read into memory before a route runs: before sign-in only a small one (the
      // sign-in form), counted as it streams in (Content-Length or chunked), so no one can make us
      // hold 50 MB per connection without a password (issue 14). Signed in: the server's bodyLimit.
      owa.addHook('preParsing', async (req, _reply, payload) => {
        if (sessions.get(cookies(req)[SESSION_COOKIE], false)) return payload;
        if (Number(req.headers['content-length'] ?? 0) > ANONYMOUS_BODY_LIMIT) throw bodyTooLarge();
        let seen = 0;
        const limited = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            seen += chunk.length;
            done(seen > ANONYMOUS_BODY_LIMIT ? bodyTooLarge() : null, chunk);
          },
        });
        payload.on('error', (err) => limited.destroy(err));
        return payload.pipe(limited);
      });
      authRoutes(owa, deps);
      mailRoutes(owa, deps);
      composeRoutes(owa, deps);
      pushRoutes(owa, deps, streams);
      adminRoutes(owa, deps);
      owa.all('/api/*', async (req, reply) => reply.code(404).send({ error: `no such API: ${req.method} ${req.url}` }));
      owa.get('/*', async (req, reply) => serveUi(uiDir, (req.params as { '*': string })['*'], reply));
    }, { prefix: '/owa' });
    app.get('/owa', async (_req, reply) => reply.redirect('/owa/'));

    // push streams are never idle, so the server would wait for them: end them first
    app.addHook('preClose', async () => {
      for (const end of [...streams]) end();
    });
    app.addHook('onClose', async () => {
      await sessions.closeAll();
    });
  };
}

/** The web session times from the live settings (seconds in the catalog), so `settings set` applies without a restart. */
function sessionTimes(settings: LiveSettings): SessionTimes {
  return {
    idleMs: settings.int('OwaSettings.SessionIdleTimeout') * 1000,
    maxAgeMs: settings.int('OwaSettings.SessionLifetime') * 1000,
  };
}

/** The web mail plugin with default options, for front-ends.ts. */
export const registerOwa: HttpPlugin = createOwa();
