import type { LiveSettings } from '../settings/resolve.js';
import type { ServiceKind } from '../settings/catalog.js';
import type { User } from '../store/types.js';
import type { SessionGovernor } from '../governor/governor.js';
import { EWS_LOGON_ANSWERS, LOGON_ANSWERS, pop3Line, storeLimitRefusal } from './answers.js';
import { normaliseClientAddress } from './client-address.js';
import type { BruteForceGuard } from './brute-force-guard.js';
import { accountKey, type AccountGuard, type AccountGuardState } from './account-guard.js';
import { accountSlowdownRefusal, authRefusal, connectionLimitsOf, lockoutRefusal, type AccessContext } from './logon.js';
import type { LogonRefusal } from './refusal.js';
import { RECLAIM_SETTING } from '../governor/reclaim.js';

export type ExplainProtocol = ServiceKind;

export interface LayerVerdict {
  layer: 'brute-force guard' | 'account guard' | 'password' | 'protocol connection limits' | 'throttling policy' | 'store session limits';
  applies: boolean;
  refuses: boolean;
  /** Each limit checked: setting, effective value, where the value comes from, current count. */
  checks: Array<{ setting: string; limit: number | 'unlimited'; source: string; count: number; refuses: boolean }>;
  /** What the client would see when this layer refuses. */
  clientSees?: string;
  /** The command that would lift this layer's refusal. */
  remedy?: string;
  /** At the store limit with reclaim on: the idle session the logon would end to get in. */
  reclaims?: { sessionId: string; kind: string; clientAddress: string; clientInfo: string | null; idleSeconds: number; setting: string; seconds: number; source: string };
}

export interface AccessExplanation {
  user: string;
  dn: string;
  protocol: ExplainProtocol;
  /** The client address the guard and per-address layers were asked about (null: not asked). */
  from: string | null;
  allowed: boolean;
  refusedBy: LayerVerdict['layer'] | null;
  /** The refusal the logon pipeline would return now: same kind, setting, limit and count. */
  refusal: LogonRefusal | null;
  layers: LayerVerdict[];
  /** The per-account guard's state for the user's address (issue 14): failures, delay, known addresses. */
  accountGuard: AccountGuardState & { fromKnown: boolean | null };
  notes: string[];
}

/** What explain reads: the running server's context, or one with zero counts when none runs. */
export type AccessState = Pick<AccessContext, 'settings' | 'connections' | 'store'> & {
  governor: Pick<SessionGovernor, 'wouldRefuse' | 'counts' | 'reclaimCandidate'>;
  bruteForceGuard: Pick<BruteForceGuard, 'check' | 'failures' | 'policy'>;
  accountGuard: Pick<AccountGuard, 'check' | 'describe' | 'isKnown'>;
};

/** What the client of `protocol` would read, from the one table of answers. */
function clientSees(protocol: ExplainProtocol, r: LogonRefusal): string {
  const answers = LOGON_ANSWERS[r.kind];
  if (protocol === 'imap') {
    const a = answers.imap(r);
    return `${a.status}${a.code ? ` [${a.code}]` : ''} ${a.text}`;
  }
  if (protocol === 'pop3') return pop3Line(answers.pop3(r));
  if (protocol === 'ews') {
    const e = EWS_LOGON_ANSWERS[r.kind](r);
    return e.httpStatus === 401 ? 'HTTP 401 with the Basic challenge' : `SOAP fault ${e.responseCode}${e.backOffMs ? ` (BackOffMilliseconds ${e.backOffMs})` : ''}: ${e.text}`;
  }
  const a = answers.http(r);
  return `HTTP ${a.status}: ${a.text}`;
}

/**
 * Says which access layer would refuse the user's next logon over `protocol` now, why, and
 * which setting would change it (SPEC §3.5). It asks the predicates the logon pipeline asks
 * (guard check, ConnectionLimits.check, SessionGovernor.wouldRefuse), in the pipeline's order,
 * without reserving, counting or opening anything. The brute-force guard (and the address in
 * the answers) needs `from`, the client's address; the password layer needs `password` (checked
 * against the store in full, not through the credential cache, so that nothing is cached; not
 * counted as a failure).
 */
export async function explainAccess(
  state: AccessState,
  user: User,
  protocol: ExplainProtocol,
  opts: { from?: string; password?: string } = {},
): Promise<AccessExplanation> {
  const settings: LiveSettings = state.settings;
  const ctx = { userId: user.id, databaseId: user.databaseId };
  const from = opts.from ? normaliseClientAddress(opts.from) : null;
  const ip = from ?? 'unknown';
  const q = (s: string) => `"${s}"`;
  const layers: LayerVerdict[] = [];

  // 1. brute-force guard
  const lockout = from ? await state.bruteForceGuard.check(from) : null;
  const lockoutR = lockout ? lockoutRefusal(lockout) : null;
  layers.push({
    layer: 'brute-force guard', applies: from !== null, refuses: !!lockoutR,
    checks: lockoutR ? [{ setting: lockoutR.setting, limit: lockoutR.limit, source: 'built in', count: lockoutR.count, refuses: true }] : [],
    clientSees: lockoutR ? clientSees(protocol, lockoutR) : undefined,
    remedy: lockoutR ? `wait ${lockoutR.retryAfterSeconds} seconds (the lockout expires by itself)` : undefined,
  });

  // 1b. the account guard (issue 14), asked right after the brute-force guard as the logon does:
  // failures of this account from every address; addresses it logged on from before are never
  // slowed (it counts the account as typed: here, the user's address). Its layer is listed last,
  // so that the numbers of the layers scripts read stay what they were (SPEC §5).
  const account = accountKey(user.address);
  const guardState = await state.accountGuard.describe(account);
  const fromKnown = from ? await state.accountGuard.isKnown(account, from) : null;
  const slowdown = fromKnown === false ? await state.accountGuard.check(account) : null;
  const slowR = slowdown && !lockoutR ? accountSlowdownRefusal(slowdown, ip) : null;

  // 2. the password (only when given): what a wrong one would be answered, counted as the next failure
  let authR = null;
  if (opts.password !== undefined) {
    const right = (await state.store.verifyPassword(user.address, opts.password)) !== null;
    const failures = from ? await state.bruteForceGuard.failures(from) : 0;
    authR = right ? null : authRefusal(state.bruteForceGuard.policy.lockoutAfter, failures + 1, ip);
    layers.push({
      layer: 'password', applies: true, refuses: !!authR,
      checks: [{ setting: authR?.setting ?? 'password', limit: state.bruteForceGuard.policy.lockoutAfter, source: 'built in', count: failures + (right ? 0 : 1), refuses: !right }],
      clientSees: authR ? clientSees(protocol, authR) : undefined,
      remedy: authR ? `mailwarden user set-password ${user.address} --password-stdin   (if the user forgot it)` : undefined,
    });
  } else {
    layers.push({ layer: 'password', applies: false, refuses: false, checks: [] });
  }

  // 3 and 4. protocol connection limits, throttling: the same check admitUser makes
  const limits = connectionLimitsOf(state, protocol)!;
  const connR = limits.check(user, ip);
  const held = limits.userConnections(user.id);
  if (limits.hasProtocolLayer) {
    const e = settings.explain(`${protocol === 'pop3' ? 'PopSettings' : 'ImapSettings'}.MaxConnectionsPerUser`, ctx);
    const refuses = connR?.kind === 'protocol';
    layers.push({
      layer: 'protocol connection limits', applies: true, refuses,
      checks: [{ setting: e.def.name, limit: Number(e.value), source: e.source, count: held, refuses }],
      clientSees: refuses ? clientSees(protocol, connR!) : undefined,
      remedy: `mailwarden settings set ${e.def.name} ${held + 1}`,
    });
  } else {
    layers.push({ layer: 'protocol connection limits', applies: false, refuses: false, checks: [] });
  }
  const throttle = { imap: 'IMAP', pop3: 'POP', owa: 'OWA', ews: 'EWS', eas: 'EAS' }[protocol];
  const t = settings.explain(`ThrottlingPolicy.${throttle}MaxConcurrency`, ctx);
  const tLimit = Number(t.value);
  const tRefuses = connR?.kind === 'throttling' || (connR?.kind === 'protocol' && tLimit > 0 && held >= tLimit);
  layers.push({
    layer: 'throttling policy', applies: true, refuses: tRefuses,
    checks: [{ setting: t.def.name, limit: tLimit === 0 ? 'unlimited' : tLimit, source: t.source, count: held, refuses: tRefuses }],
    clientSees: connR?.kind === 'throttling' ? clientSees(protocol, connR) : undefined,
    remedy: `mailwarden settings set ${q(t.def.name)} ${held + 1} --user ${user.address}`,
  });

  // 5. store session limits: the governor's own predicate
  const storeErr = await state.governor.wouldRefuse(user, protocol);
  const storeR = storeErr ? storeLimitRefusal(storeErr, ip) : null;
  const disabled = settings.bool('Disable Session Limit', ctx);
  const counts = await state.governor.counts(user.id);
  const kindName = `Maximum Allowed ${protocol.toUpperCase()} Sessions Per User`;
  const storeChecks = ([
    ['Maximum Allowed Sessions Per User', counts.all],
    ['Maximum Allowed Service Sessions Per User', counts.service],
    [kindName, counts.byKind[protocol] ?? 0],
  ] as const).map(([name, count]) => {
    const e = settings.explain(name, ctx);
    const limit = Number(e.value);
    return { setting: name, limit: limit === 0 && name === kindName ? ('unlimited' as const) : limit, source: e.source, count, refuses: storeR?.setting === name };
  });
  // reclaim at the limit: the governor's own choice of victim (the session open() would end now)
  const candidate = storeR ? await state.governor.reclaimCandidate(user, protocol) : undefined;
  const victim = candidate?.session;
  const reclaimSetting = settings.explain(RECLAIM_SETTING, ctx);
  const storeRefuses = !!storeR && !victim;
  layers.push({
    layer: 'store session limits', applies: true, refuses: storeRefuses,
    checks: storeChecks,
    clientSees: storeRefuses ? clientSees(protocol, storeR) : undefined,
    remedy: storeRefuses ? `mailwarden settings set ${q(storeR.setting)} ${storeR.count + 1} --user ${user.address}   (or without --user for the whole server)` : undefined,
    reclaims: candidate && {
      sessionId: candidate.session.id, kind: candidate.session.kind, clientAddress: candidate.session.clientAddress, clientInfo: candidate.session.clientInfo,
      idleSeconds: candidate.idleSeconds, setting: reclaimSetting.def.name, seconds: candidate.seconds, source: reclaimSetting.source,
    },
  });

  layers.push({
    layer: 'account guard', applies: from !== null, refuses: !!slowR,
    checks: [{ setting: 'account guard free failures', limit: guardState.freeFailures, source: 'built in', count: guardState.failures, refuses: !!slowR }],
    clientSees: slowR ? clientSees(protocol, slowR) : undefined,
    remedy: slowR ? `wait ${Math.ceil(slowdown!.retryAfterMs / 1000)} seconds, or log on from an address known for the account (${guardState.knownAddresses.length ? guardState.knownAddresses.join(', ') : 'none yet'})` : undefined,
  });

  const refusal = lockoutR ?? slowR ?? authR ?? connR ?? (storeRefuses ? storeR : null);
  // the first refusing layer in the logon's order (the account guard comes right after the address guard)
  const refusing = lockoutR ? layers[0]! : slowR ? layers.find((l) => l.layer === 'account guard')! : layers.find((l) => l.refuses) ?? null;
  const notes: string[] = [];
  if (storeRefuses && layers.some((l) => l.applies && (l.layer === 'protocol connection limits' || l.layer === 'throttling policy'))) {
    notes.push(
      `Raising ${limits.hasProtocolLayer ? `${protocol === 'pop3' ? 'PopSettings' : 'ImapSettings'}.MaxConnectionsPerUser or ` : ''}the throttling policy does not help: the store session limit refuses, and it is a separate layer (KB 980049).`,
    );
  }
  if (storeRefuses) notes.push('A store session refusal also logs event 9646 (MSExchangeIS), at most once a minute per user.');
  if (victim) {
    notes.push(`At the limit, ${q(reclaimSetting.def.name)} (${reclaimSetting.value} s, ${reclaimSetting.source}) admits the logon by ending ${victim.kind} session ${victim.id} from ${victim.clientAddress}, idle ${candidate!.idleSeconds} s (event 9648).`);
  } else if (storeR && Number(reclaimSetting.value) > 0) {
    notes.push(`${q(reclaimSetting.def.name)} is ${reclaimSetting.value} s, but no ${protocol} session of this user has been idle that long: nothing to reclaim.`);
  }
  if (disabled) notes.push('"Disable Session Limit" is on for this user: store session limits are counted but not enforced.');
  if (!from) notes.push('The brute-force and account guards were not asked: pass --from ADDRESS to include them.');
  if (guardState.failures > 0 || guardState.delayMs > 0) {
    notes.push(`Account guard: ${guardState.failures} wrong password(s) for ${account} from any address in the window${guardState.delayMs ? `; a check from a new address waits ${Math.ceil(guardState.delayMs / 1000)} s` : ''}; known addresses are never slowed.`);
  }
  if (opts.password === undefined) notes.push('The password was not checked: pass --password-stdin to include it.');
  return { user: user.address, dn: user.dn, protocol, from, allowed: !refusal, refusedBy: refusing?.layer ?? null, refusal, layers, accountGuard: { ...guardState, fromKnown }, notes };
}
