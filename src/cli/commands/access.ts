import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { dataDirOf, positional, requireUser, withStore } from '../common.js';
import { AdminClient } from '../admin-client.js';
import { printJson } from '../output.js';
import { explainAccess, type AccessExplanation, type ExplainProtocol } from '../../access/explain.js';
import { SERVICE_KINDS } from '../../settings/catalog.js';
import { LiveSettings } from '../../settings/resolve.js';

/** mailwarden access explain USER --protocol P: live counts from the running server, else zero. */
export async function accessCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  if (sub !== 'explain') throw new CliError(`unknown "access ${sub ?? ''}": use explain`);
  allowOnly(args, ['protocol']);
  const identity = positional(args, 0, 'USER');
  const protocol = (args.flags.get('protocol') ?? '').toLowerCase().replace(/^pop$/, 'pop3').replace(/^imap4$/, 'imap');
  if (!(SERVICE_KINDS as readonly string[]).includes(protocol)) throw new CliError(`--protocol needs one of ${SERVICE_KINDS.join('|')}`);
  let x: AccessExplanation;
  let live = false;
  const c = AdminClient.forDataDir(dataDirOf(args));
  if (c) {
    const r = await c.call<AccessExplanation & { error?: string }>('GET', `/api/admin/access/explain?user=${encodeURIComponent(identity)}&protocol=${protocol}`);
    if (r.status !== 200) throw new CliError(r.body.error ?? `admin API answered ${r.status}`);
    x = r.body;
    live = true;
  } else {
    x = await withStore(args, async (store) => {
      const user = await requireUser(store, identity);
      const settings = new LiveSettings(store);
      await settings.refresh();
      return explainAccess(settings, user, protocol as ExplainProtocol, { protocolConnectionsForUser: 0, sessions: { all: 0, service: 0, byKind: {} } });
    });
  }
  if (args.switches.has('json')) return printJson({ ...x, live });
  const out: string[] = [];
  out.push(`${x.user} over ${x.protocol}: ${x.allowed ? 'ALLOWED' : `REFUSED by ${x.refusedBy}`}${live ? '' : ' (no server running: counts are zero)'}`);
  x.layers.forEach((l, i) => {
    out.push(`${i + 1}. ${l.layer}: ${!l.applies ? 'does not apply' : l.refuses ? 'REFUSES' : 'passes'}`);
    for (const c of l.checks) out.push(`     ${c.refuses ? '✗' : '✓'} ${c.setting} = ${c.limit} (${c.source}); in use: ${c.count}`);
    if (l.refuses && l.clientSees) out.push(`     client sees: ${l.clientSees}`);
    if (l.refuses && l.remedy) out.push(`     to allow: ${l.remedy}`);
  });
  for (const n of x.notes) out.push(`note: ${n}`);
  process.stdout.write(out.join('\n') + '\n');
}
