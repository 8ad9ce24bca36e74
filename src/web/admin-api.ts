import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { normaliseClientAddress } from '../access/client-address.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../server/context.js';
import { explainAccess, type ExplainProtocol } from '../access/explain.js';
import { SERVICE_KINDS } from '../settings/catalog.js';

/**
 * The admin API the CLI (and the web admin pages) use for what only the running server
 * knows: live sessions, kills, access explanations with live counts, metrics.
 * Authenticated by the bearer token in DATA/admin.token (readable by the server's user only).
 */
export function registerAdminApi(app: FastifyInstance, ctx: ServerContext, adminToken: string): void {
  const expected = Buffer.from(adminToken);
  const authorised = (req: FastifyRequest): boolean => {
    const h = req.headers.authorization ?? '';
    const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const guard = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!authorised(req)) return reply.code(401).send({ error: 'admin token required' });
  };

  app.get('/api/admin/health', { preHandler: guard }, async () => ({
    ok: true, pid: process.pid, node: ctx.governor.node, sessions: ctx.governor.openCount, computer: ctx.computer,
  }));

  app.get('/api/admin/sessions', { preHandler: guard }, async (req, reply) => {
    const { user } = req.query as { user?: string };
    let userId: number | undefined;
    if (user) {
      const u = await ctx.store.findUser(user);
      if (!u) return reply.code(404).send({ error: `no user ${user}` });
      userId = u.id;
    }
    return { sessions: await ctx.governor.list({ userId }) };
  });

  app.delete('/api/admin/sessions/:id', { preHandler: guard }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const killed = await ctx.governor.kill(id);
    if (!killed) return reply.code(404).send({ error: `no open session ${id}` });
    return { killed };
  });

  /** GET with query parameters; POST with the same as a JSON body, plus an optional password to check. */
  const explain = async (q: { user?: unknown; protocol?: unknown; from?: unknown; password?: unknown }, reply: FastifyReply) => {
    const { user, protocol, from, password } = q;
    if (typeof user !== 'string' || typeof protocol !== 'string' || !(SERVICE_KINDS as readonly string[]).includes(protocol)) {
      return reply.code(400).send({ error: `need user and protocol (${SERVICE_KINDS.join('|')})` });
    }
    if (from !== undefined && (typeof from !== 'string' || !isIP(normaliseClientAddress(from)))) return reply.code(400).send({ error: `from: ${String(from).slice(0, 60)} is not an IP address` });
    if (password !== undefined && typeof password !== 'string') return reply.code(400).send({ error: 'password must be a string' });
    const u = await ctx.store.findUser(user);
    if (!u) return reply.code(404).send({ error: `no user ${user}` });
    await ctx.settings.refresh();
    return explainAccess(ctx, u, protocol as ExplainProtocol, { from, password });
  };
  app.get('/api/admin/access/explain', { preHandler: guard }, async (req, reply) => {
    const { password: _ignored, ...q } = req.query as Record<string, string>; // a password never travels in a URL
    return explain(q, reply);
  });
  app.post('/api/admin/access/explain', { preHandler: guard }, async (req, reply) => explain((req.body ?? {}) as Record<string, unknown>, reply));

  app.get('/metrics', { preHandler: guard }, async (_req, reply) => {
    reply.type(ctx.metrics.contentType);
    return ctx.metrics.render();
  });
}
