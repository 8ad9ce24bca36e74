import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { dataDirOf, positional, readPasswordFromStdin, redisOf, requireUser, withStore } from '../common.js';
import { withCluster } from '../cluster.js';
import type { SessionAccounting } from '../../governor/accounting.js';
import type { SharedState } from '../../shared-state/shared-state.js';
import { AdminClient } from '../admin-client.js';
import { printJson } from '../output.js';
import { isIP } from 'node:net';
import { explainAccess, type AccessExplanation, type ExplainProtocol } from '../../access/explain.js';
import { normaliseClientAddress } from '../../access/client-address.js';
import { ConnectionLimits } from '../../access/connection-limits.js';
import { BruteForceGuard } from '../../access/brute-force-guard.js';
import { AccountGuard } from '../../access/account-guard.js';
import { EventLog } from '../../events/event-log.js';
import { SessionGovernor } from '../../governor/governor.js';
import { InProcessAccounting } from '../../governor/in-process-accounting.js';
import { InProcessState } from '../../shared-state/in-process-state.js';
import { systemClock } from '../../shared-state/clock.js';
import { SERVICE_KINDS } from '../../settings/catalog.js';
import { LiveSettings } from '../../settings/resolve.js';
import type { Store } from '../../store/store.js';

/** With no server running nothing is counted: the same predicates over empty counters. */
async function idleServerState(store: Store, cluster?: { accounting: SessionAccounting; state: SharedState }) {
  const settings = new LiveSettings(store);
  await settings.refresh();
  const events = new EventLog(store, 'cli');
  const limits = (k: ExplainProtocol) => new ConnectionLimits(k, settings);
  const state = cluster?.state ?? new InProcessState(systemClock);
  return {
    store,
    settings,
    governor: new SessionGovernor(cluster?.accounting ?? new InProcessAccounting(), settings, events),
    connections: { pop: limits('pop3'), imap: limits('imap'), owa: limits('owa'), ews: limits('ews'), eas: limits('eas') },
    bruteForceGuard: new BruteForceGuard(state, events),
    accountGuard: new AccountGuard(state),
  };
}

/** mailwarden access explain USER --protocol P [--from IP] [--password-stdin]: live counts from the running server, else zero. */
export async function accessCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  if (sub !== 'explain') throw new CliError(`unknown "access ${sub ?? ''}": use explain`);
  allowOnly(args, ['protocol', 'from', 'password-stdin']);
  const identity = positional(args, 0, 'USER');
  const protocol = (args.flags.get('protocol') ?? '').toLowerCase().replace(/^pop$/, 'pop3').replace(/^imap4$/, 'imap');
  if (!(SERVICE_KINDS as readonly string[]).includes(protocol)) throw new CliError(`--protocol needs one of ${SERVICE_KINDS.join('|')}`);
  const from = args.flags.get('from');
  if (from !== undefined && !isIP(normaliseClientAddress(from))) throw new CliError(`--from needs an IP address, not "${from.slice(0, 60)}"`);
  const password = args.switches.has('password-stdin') ? await readPasswordFromStdin() : undefined;
  let x: AccessExplanation;
  let live = false;
  const redis = redisOf(args);
  const c = redis ? undefined : AdminClient.forDataDir(dataDirOf(args));
  if (redis) {
    // several nodes: the counts of every node, from the cluster's accounting and shared state
    x = await withStore(args, (store) => withCluster(redis, async (cluster) => {
      const user = await requireUser(store, identity);
      return explainAccess(await idleServerState(store, cluster), user, protocol as ExplainProtocol, { from, password });
    }));
    live = true;
  } else if (c) {
    // POST: the password (if any) goes in the body, never in a URL
    const r = await c.call<AccessExplanation & { error?: string }>('POST', '/api/admin/access/explain', { user: identity, protocol, from, password });
    if (r.status !== 200) throw new CliError(r.body.error ?? `admin API answered ${r.status}`);
    x = r.body;
    live = true;
  } else {
    x = await withStore(args, async (store) => {
      const user = await requireUser(store, identity);
      return explainAccess(await idleServerState(store), user, protocol as ExplainProtocol, { from, password });
    });
  }
  if (args.switches.has('json')) return printJson({ ...x, live });
  const out: string[] = [];
  out.push(`${x.user} over ${x.protocol}: ${x.allowed ? 'ALLOWED' : `REFUSED by ${x.refusedBy}`}${live ? '' : ' (no server running: counts are zero)'}`);
  if (x.refusal) out.push(`refusal: ${x.refusal.kind} by ${x.refusal.setting}, ${x.refusal.count} of ${x.refusal.limit}`);
  x.layers.forEach((l, i) => {
    out.push(`${i + 1}. ${l.layer}: ${!l.applies ? 'does not apply' : l.refuses ? 'REFUSES' : 'passes'}`);
    for (const c of l.checks) out.push(`     ${c.refuses ? '✗' : '✓'} ${c.setting} = ${c.limit} (${c.source}); in use: ${c.count}`);
    if (l.refuses && l.clientSees) out.push(`     client sees: ${l.clientSees}`);
    if (l.refuses && l.remedy) out.push(`     to allow: ${l.remedy}`);
    if (l.reclaims) out.push(`     reclaims: ${l.reclaims.kind} session ${l.reclaims.sessionId} from ${l.reclaims.clientAddress}, idle ${l.reclaims.idleSeconds} s (${l.reclaims.setting} = ${l.reclaims.seconds}, ${l.reclaims.source})`);
  });
  const g = x.accountGuard;
  out.push(`account guard for ${g.account}: ${g.failures} failure(s) counted (${g.freeFailures} free), ${g.inFlight} check(s) in flight, `
    + `${g.delayMs ? `new addresses wait ${Math.ceil(g.delayMs / 1000)} s` : 'no delay now'}; known addresses: ${g.knownAddresses.length ? g.knownAddresses.join(', ') : 'none'}`
    + `${g.fromKnown === null ? '' : `; ${x.from} is ${g.fromKnown ? '' : 'not '}known`}`);
  for (const n of x.notes) out.push(`note: ${n}`);
  process.stdout.write(out.join('\n') + '\n');
}
