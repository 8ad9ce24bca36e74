import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { eventsToXml } from '../../events/xml.js';
import { findSetting, formatSettingValue, parseSettingValue, SETTINGS, type SettingDef } from '../../settings/catalog.js';
import { resolveSettingWithSource } from '../../settings/resolve.js';
import type { EventFilter, SettingOverride } from '../../store/types.js';
import { requireAdmin, type OwaDeps } from './api-context.js';
import { HttpError } from './errors.js';

const Scope = z.object({ user: z.string().trim().max(320).optional(), database: z.string().trim().max(200).optional() });
const SetBody = Scope.extend({ name: z.string().min(1).max(200), value: z.string().max(200) });
const UnsetBody = Scope.extend({ name: z.string().min(1).max(200) });

/**
 * The administrator's pages: the same operations as `mailwarden sessions|events|settings`,
 * with the same validation (the settings catalog), for admin users of web mail.
 */
export function adminRoutes(app: FastifyInstance, deps: OwaDeps): void {
  const { ctx } = deps;

  /** --user / --database → the override's scope, refusing server-wide settings per user (as the CLI does). */
  async function scopeOf(q: z.infer<typeof Scope>, def: SettingDef | null) {
    if (q.user && q.database) throw new HttpError(400, 'give user or database, not both');
    if ((q.user || q.database) && def && def.scope !== 'overridable') throw new HttpError(400, `"${def.name}" is server-wide; it cannot be set per ${q.user ? 'user' : 'database'}`);
    if (q.user) {
      const u = await ctx.store.findUser(q.user);
      if (!u) throw new HttpError(404, `no user ${q.user}`);
      return { scope: 'user' as const, targetId: u.id, userId: u.id, databaseId: u.databaseId };
    }
    if (q.database) {
      const d = await ctx.store.findDatabase(q.database);
      if (!d) throw new HttpError(404, `no mailbox database "${q.database}"`);
      return { scope: 'database' as const, targetId: d.id, databaseId: d.id };
    }
    return { scope: 'server' as const, targetId: 0 };
  }

  function settingOf(name: string): SettingDef {
    const def = findSetting(name);
    if (!def) throw new HttpError(404, `unknown setting "${name}"`);
    return def;
  }

  app.get('/api/admin/sessions', async (req) => {
    requireAdmin(deps, req);
    const { user } = Scope.parse(req.query);
    const u = user ? await ctx.store.findUser(user) : null;
    if (user && !u) throw new HttpError(404, `no user ${user}`);
    return { sessions: await ctx.governor.list(u ? { userId: u.id } : {}) };
  });

  // ActiveSync devices (Get-MobileDevice / Remove-MobileDevice): what `mailwarden devices` shows
  app.get('/api/admin/devices', async (req) => {
    requireAdmin(deps, req);
    const { user } = Scope.parse(req.query);
    const u = user ? await ctx.store.findUser(user) : null;
    if (user && !u) throw new HttpError(404, `no user ${user}`);
    return { devices: await ctx.store.listDevices(u?.id) };
  });

  const RemoveDevice = z.object({ user: z.string().trim().min(1).max(320), deviceId: z.string().min(1).max(64) });
  app.post('/api/admin/devices/remove', async (req) => {
    requireAdmin(deps, req);
    const { user, deviceId } = RemoveDevice.parse(req.body ?? {});
    const u = await ctx.store.findUser(user);
    if (!u) throw new HttpError(404, `no user ${user}`);
    if (!(await ctx.store.removeDevice(u.id, deviceId))) throw new HttpError(404, `${user} has no device ${deviceId}`);
    return { removed: { user: u.address, deviceId } };
  });

  app.post('/api/admin/sessions/:id/kill', async (req) => {
    requireAdmin(deps, req);
    const killed = await ctx.governor.kill((req.params as { id: string }).id);
    if (!killed) throw new HttpError(404, 'no such open session');
    return { killed };
  });

  const EventQuery = z.object({
    id: z.coerce.number().int().nonnegative().optional(),
    user: z.string().max(320).optional(),
    limit: z.coerce.number().int().positive().max(5000).default(200),
  });
  /** The store lists oldest first; the page wants the newest `limit`, newest first. */
  const newest = async (q: unknown) => {
    const p = EventQuery.parse(q);
    const filter: EventFilter = { eventId: p.id, user: p.user || undefined };
    return (await ctx.store.listEvents(filter)).slice(-p.limit).reverse();
  };

  app.get('/api/admin/events', async (req) => {
    requireAdmin(deps, req);
    return { events: await newest(req.query) };
  });

  app.get('/api/admin/events/export', async (req, reply) => {
    requireAdmin(deps, req);
    const events = (await newest(req.query)).reverse();
    reply.type('application/xml; charset=utf-8');
    reply.header('content-disposition', 'attachment; filename="mailwarden-events.xml"');
    return reply.send(events.length ? eventsToXml(events) : '<Events>\n</Events>\n');
  });

  app.get('/api/admin/settings', async (req) => {
    requireAdmin(deps, req);
    const sc = await scopeOf(Scope.parse(req.query), null);
    const overrides = await ctx.store.listSettingOverrides();
    return {
      settings: SETTINGS.map((def) => {
        const r = resolveSettingWithSource(def.name, overrides, { userId: sc.userId, databaseId: sc.databaseId });
        return {
          name: def.name, group: def.group, type: def.type, values: def.values, scope: def.scope, description: def.description,
          value: formatSettingValue(def, r.value), source: r.source, default: formatSettingValue(def, def.default),
        };
      }),
    };
  });

  app.post('/api/admin/settings', async (req) => {
    requireAdmin(deps, req);
    const body = SetBody.parse(req.body);
    const def = settingOf(body.name);
    const parsed = parseSettingValue(def, body.value);
    if ('error' in parsed) throw new HttpError(400, parsed.error);
    const sc = await scopeOf(body, def);
    const o: SettingOverride = { scope: sc.scope, targetId: sc.targetId, name: def.name, value: String(parsed.value) };
    await ctx.store.putSetting(o);
    // applies from the next logon, like a CLI change; refreshing now saves a round for this node
    await ctx.settings.refresh();
    return { name: def.name, value: formatSettingValue(def, parsed.value), scope: sc.scope };
  });

  app.post('/api/admin/settings/unset', async (req) => {
    requireAdmin(deps, req);
    const body = UnsetBody.parse(req.body);
    const def = settingOf(body.name);
    const sc = await scopeOf(body, def);
    const removed = await ctx.store.deleteSetting({ scope: sc.scope, targetId: sc.targetId, name: def.name });
    await ctx.settings.refresh();
    return { name: def.name, removed };
  });
}
