import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { dataDirOf, positional, redisOf, withStore } from '../common.js';
import { EventLog } from '../../events/event-log.js';
import { withCluster } from '../cluster.js';
import { AdminClient } from '../admin-client.js';
import { ago, printJson, printTable } from '../output.js';
import type { SessionRecord } from '../../governor/accounting.js';

function client(args: ParsedArgs): AdminClient {
  const c = AdminClient.forDataDir(dataDirOf(args));
  if (!c) throw new CliError(`no Mailwarden server is running on ${dataDirOf(args)}: sessions live in the running server`);
  return c;
}

/** mailwarden sessions list|kill — asks the running server, which alone knows its sessions. */
export async function sessionsCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  const redis = redisOf(args);
  if (redis) return clusterSessions(sub, args, redis);
  if (sub === 'list') {
    allowOnly(args, ['user']);
    const c = AdminClient.forDataDir(dataDirOf(args));
    let sessions: SessionRecord[] = [];
    if (c) {
      const user = args.flags.get('user');
      const r = await c.call<{ sessions: SessionRecord[]; error?: string }>('GET', `/api/admin/sessions${user ? `?user=${encodeURIComponent(user)}` : ''}`);
      if (r.status !== 200) throw new CliError(r.body.error ?? `admin API answered ${r.status}`);
      sessions = r.body.sessions;
    }
    if (args.switches.has('json')) return printJson(sessions);
    if (!c) return void process.stdout.write('no server running on this data folder: no sessions are open\n');
    printSessions(sessions);
    return;
  }
  if (sub === 'kill') {
    allowOnly(args, []);
    const id = positional(args, 0, 'session ID (see "sessions list")');
    const r = await client(args).call<{ killed?: SessionRecord; error?: string }>('DELETE', `/api/admin/sessions/${encodeURIComponent(id)}`);
    if (r.status !== 200) throw new CliError(r.body.error ?? `admin API answered ${r.status}`);
    if (args.switches.has('json')) return printJson(r.body.killed);
    process.stdout.write(`ended session ${id} (${r.body.killed!.kind} of ${r.body.killed!.user})\n`);
    return;
  }
  throw new CliError(`unknown "sessions ${sub ?? ''}": use list or kill`);
}

function printSessions(sessions: SessionRecord[]): void {
  if (sessions.length === 0) return void process.stdout.write('no sessions are open\n');
  printTable(
    ['ID', 'USER', 'KIND', 'CLIENT', 'CLIENT ID', 'NODE', 'OPENED', 'LAST ACTIVITY', 'OBJECTS'],
    sessions.map((s) => [
      s.id, s.user, s.kind, s.clientAddress, s.clientInfo ?? '', s.node.slice(0, 8), new Date(s.openedAt).toISOString(), ago(s.lastActivity),
      Object.entries(s.objects).filter(([, n]) => n).map(([t, n]) => `${t}=${n}`).join(',') || '-',
    ]),
  );
  process.stdout.write(`${sessions.length} session${sessions.length === 1 ? '' : 's'}\n`);
}

/** --redis: the sessions of every node, read from the cluster's accounting; a kill goes to the owning node. */
async function clusterSessions(sub: string | undefined, args: ParsedArgs, redis: string): Promise<void> {
  if (sub === 'list') {
    allowOnly(args, ['user']);
    const user = args.flags.get('user');
    const sessions = await withCluster(redis, async ({ accounting }) => {
      const all = await accounting.list();
      return user ? all.filter((s) => s.user.toLowerCase() === user.toLowerCase()) : all;
    });
    if (args.switches.has('json')) return printJson(sessions);
    printSessions(sessions);
    return;
  }
  if (sub === 'kill') {
    allowOnly(args, []);
    const id = positional(args, 0, 'session ID (see "sessions list")');
    const killed = await withCluster(redis, ({ accounting }) => accounting.kill(id, 'killed'));
    if (!killed) throw new CliError(`no session ${id}`);
    // the event the admin API writes for a kill; the store is where it lives (skipped when this machine has no data folder)
    await withStore(args, (store) => new EventLog(store, 'cli').write('sessionKilled', [id, killed.kind, killed.dn], killed.user)).catch(() => undefined);
    if (args.switches.has('json')) return printJson(killed);
    process.stdout.write(`ended session ${id} (${killed.kind} of ${killed.user}, on node ${killed.node})\n`);
    return;
  }
  throw new CliError(`unknown "sessions ${sub ?? ''}": use list or kill`);
}
