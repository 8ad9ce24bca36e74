import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerContext } from '../server/context.js';
import type { Listener, ListenerOptions } from '../server/listener.js';
import { registerAdminApi } from './admin-api.js';
import { TurnBudget } from './turn-budget.js';

/** Extra route sets (web mail) register themselves here, so this file stays the HTTP shell. */
export type HttpPlugin = (app: FastifyInstance, ctx: ServerContext) => void | Promise<void>;

/** Request work one event-loop turn may start before further requests wait for later turns (see TurnBudget). */
const TURN_BUDGET_MS = 5;

/** HTTPS listener: admin API, metrics, and (when registered) the web mail under /owa. */
export async function startHttpServer(
  ctx: ServerContext,
  opts: ListenerOptions & { adminToken: string; plugins?: HttpPlugin[] },
): Promise<Listener & { app: FastifyInstance }> {
  const app = Fastify({
    logger: false,
    bodyLimit: 50 * 1024 * 1024,
    ...(opts.implicitTls ? { https: { key: ctx.tls.key, cert: ctx.tls.cert } } : {}),
  }) as unknown as FastifyInstance;
  // first hook of every request: under load, requests take turns with accepts and TLS handshakes
  const turns = new TurnBudget(TURN_BUDGET_MS);
  app.addHook('onRequest', (_req, _reply, done) => turns.admit(done));
  registerAdminApi(app, ctx, opts.adminToken);
  for (const plugin of opts.plugins ?? []) await plugin(app, ctx);
  app.get('/', async (_req, reply) => reply.redirect('/owa/'));
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { name: 'https', host: opts.host, port, implicitTls: opts.implicitTls, app, close: () => app.close() };
}
