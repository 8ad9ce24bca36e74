import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ServerContext } from '../server/context.js';
import type { Listener, ListenerOptions } from '../server/listener.js';
import { registerAdminApi } from './admin-api.js';
import { TurnBudget } from '../util/turn-budget.js';
import type { Server as TlsServer } from 'node:tls';
import type { Socket } from 'node:net';
import { followCertificates } from '../tls/certificates.js';
import { acceptProxyProtocol } from '../protocols/shared/proxy-protocol.js';
import { lingerOnClose } from './lingering-close.js';

/** Extra route sets (web mail) register themselves here, so this file stays the HTTP shell. */
export type HttpPlugin = (app: FastifyInstance, ctx: ServerContext) => void | Promise<void>;

/** Request work one event-loop turn may start before further requests wait for later turns (see TurnBudget). */
const TURN_BUDGET_MS = 5;

/** The store answers and, on a node of several, Redis does (a node without its accounting cannot admit logons). */
async function nodeHealthy(ctx: ServerContext): Promise<boolean> {
  try {
    await ctx.settings.refresh();
    if (ctx.cluster) await ctx.cluster.accounting.nodes();
    return true;
  } catch {
    return false;
  }
}

/**
 * Requests one connection may have in flight (received, not yet answered). Browsers send one at a
 * time per connection; a client that pipelines past this without reading our answers is cut off.
 * The ones within it wait their turn: one answer is built at a time per connection (onRequest).
 */
const MAX_REQUESTS_IN_FLIGHT = 16;

/** "METHOD /route/pattern" labels, made once each (bounded: the routes times the methods). */
const routeLabels = new Map<string, Map<string | undefined, string>>();

function routeLabel(method: string, url: string | undefined): string {
  let byUrl = routeLabels.get(method);
  if (!byUrl) routeLabels.set(method, (byUrl = new Map()));
  let label = byUrl.get(url);
  if (label === undefined) byUrl.set(url, (label = `${method} ${url ?? '(no route)'}`));
  return label;
}

/** HTTPS listener: admin API, metrics, and (when registered) the web mail under /owa. */
export async function startHttpServer(
  ctx: ServerContext,
  opts: ListenerOptions & { adminToken: string; plugins?: HttpPlugin[] },
): Promise<Listener & { app: FastifyInstance }> {
  const app = Fastify({
    // Each request logs through a child carrying its reqId (and, once the web mail finds the
    // sign-in, the store session id: api-context.ts). Fastify's own per-request lines are off
    // (they are info, one at each end): the onResponse hook below writes one line per request,
    // at debug, and the error of an answer 5xx at error.
    loggerInstance: ctx.log.child({ frontend: 'web' }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    bodyLimit: 50 * 1024 * 1024,
    ...(opts.implicitTls ? { https: ctx.tls.serverOptions() } : {}),
  }) as unknown as FastifyInstance;
  // first hook of every request: under load, requests take turns with accepts and TLS handshakes
  const turns = new TurnBudget(TURN_BUDGET_MS);
  const inFlight = new WeakMap<object, number>();
  const lastAnswer = new WeakMap<object, Promise<void>>();
  const closing = new WeakMap<object, Promise<void>>();
  const closed = (socket: Socket): Promise<void> => {
    let p = closing.get(socket);
    if (!p) {
      p = socket.destroyed ? Promise.resolve() : new Promise<void>((resolve) => socket.once('close', () => resolve()));
      closing.set(socket, p);
    }
    return p;
  };
  app.addHook('onRequest', (req, reply, done) => {
    const socket = req.raw.socket;
    const n = (inFlight.get(socket) ?? 0) + 1;
    inFlight.set(socket, n);
    if (n > MAX_REQUESTS_IN_FLIGHT) {
      req.log.info({ client: req.ip, inFlight: n }, 'connection cut off: too many pipelined requests');
      socket.destroy();
      void reply.code(429).send();
      return;
    }
    // one answer at a time per connection: a pipelined request starts once the answer before it
    // has been written out (or the connection closed). Else every pipelined request's answer is
    // built and queued at once, and a client that never reads makes us hold them all (issue 14).
    const previous = lastAnswer.get(socket);
    lastAnswer.set(socket, new Promise<void>((resolve) => {
      reply.raw.once('finish', resolve);
      reply.raw.once('close', resolve);
    }));
    if (!previous) return turns.admit(done);
    void Promise.race([previous, closed(socket)]).then(() => {
      // the client went away with requests still queued: none of them is worked on
      if (socket.destroyed) return void reply.code(400).send();
      turns.admit(done);
    });
  });
  // an answer sent before the request body was read (413 too large, or a parser's error) closes
  // the connection: let the client finish sending first, or the close can cost it the answer
  app.addHook('onSend', (req, reply, payload, done) => {
    if (!req.raw.complete && String(reply.getHeader('connection') ?? '').toLowerCase() === 'close') lingerOnClose(req.raw.socket);
    done(null, payload);
  });
  const failures = new WeakMap<FastifyRequest, Error>();
  app.addHook('onError', (req, _reply, err, done) => {
    failures.set(req, err);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const socket = req.raw.socket;
    inFlight.set(socket, Math.max(0, (inFlight.get(socket) ?? 1) - 1));
    // the route's pattern, not the URL: bounded labels, and no search words or ids in the log
    const route = routeLabel(req.method, req.routeOptions.url);
    ctx.metrics.observeCommand('http', route, reply.elapsedTime / 1000);
    // the log object is made only when it is written (debug is off in production; 10,000 woken
    // ActiveSync Pings answer in one burst)
    if (reply.statusCode >= 500) req.log.error({ route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, err: failures.get(req) }, 'request failed');
    else if ((req.log as Logger).isLevelEnabled('debug')) req.log.debug({ route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    done();
  });
  registerAdminApi(app, ctx, opts.adminToken);
  for (const plugin of opts.plugins ?? []) await plugin(app, ctx);
  app.get('/', async (_req, reply) => reply.redirect('/owa/'));
  // for load balancers (HAProxy's option httpchk): no token, no details; 503 when this node cannot serve logons
  app.get('/health', async (_req, reply) => {
    const ok = await nodeHealthy(ctx);
    return reply.code(ok ? 200 : 503).type('text/plain').send(ok ? 'ok\n' : 'unavailable\n');
  });
  acceptProxyProtocol(app.server, opts.proxy, (peer, reason) => ctx.log.warn({ peer, reason, frontend: 'web' }, 'PROXY header refused'));
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const stopFollowing = opts.implicitTls ? followCertificates(app.server as unknown as TlsServer, ctx.tls) : () => undefined;
  return { name: 'https', host: opts.host, port, implicitTls: opts.implicitTls, app, close: () => { stopFollowing(); return app.close(); } };
}
