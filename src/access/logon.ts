/**
 * The one way in (SPEC §3.5, issue 12): every front end — IMAP, POP3, SMTP AUTH, web mail, and
 * EWS/ActiveSync to come — logs a user on through `logon`, which runs the layers in order:
 * identity → client address → brute-force guard → password → protocol connection limits →
 * throttling → store session. It answers a session or a typed refusal (refusal.ts) that the
 * front end turns into its protocol's answer with answers.ts; `access explain` (explain.ts)
 * runs the same predicates without side effects.
 */
import type { Store } from '../store/store.js';
import type { LiveSettings } from '../settings/resolve.js';
import type { EventLog } from '../events/event-log.js';
import type { ServiceKind } from '../settings/catalog.js';
import type { SessionGovernor, StoreSession } from '../governor/governor.js';
import { TooManyObjectsOpened } from '../governor/errors.js';
import type { User } from '../store/types.js';
import { storeLimitRefusal } from './answers.js';
import { normaliseClientAddress } from './client-address.js';
import type { ConnectionLimits } from './connection-limits.js';
import { ACCOUNT_RULE, LOCKOUT_RULE, type LogonRefusal } from './refusal.js';
import { accountKey, type AccountGuard, type AccountSlowdown } from './account-guard.js';
import type { BruteForceGuard, GuardLockout } from './brute-force-guard.js';
import type { Metrics } from '../observability/metrics.js';
import { recordLogon, type LogonLog } from './record-logon.js';
import type { CredentialCache } from './credentials.js';

/**
 * What the pipeline needs of the server (the ServerContext has it all; access does not import
 * the server layer above it).
 */
export interface AccessContext {
  store: Pick<Store, 'verifyPassword'>;
  /** The verified-credentials cache (credentials.ts): the pipeline's password step. */
  credentials: Pick<CredentialCache, 'verify'>;
  settings: LiveSettings;
  governor: SessionGovernor;
  events: EventLog;
  /** Protocol connection and throttling limits per front end ('pop' is POP3's). */
  connections: Record<'pop' | 'imap' | 'owa' | 'ews' | 'eas', ConnectionLimits>;
  bruteForceGuard: BruteForceGuard;
  /** Failures per account across addresses (account-guard.ts). */
  accountGuard: AccountGuard;
  /** Every logon is counted here (record-logon.ts), whichever front end it came through. */
  metrics: Metrics;
}

/** The front ends that log users on: the store's session kinds, plus SMTP AUTH (no store session). */
export type LogonKind = ServiceKind | 'smtp';

export interface LogonRequest {
  kind: LogonKind;
  identity: string;
  password: string;
  /** As the socket or HTTP request reports it; normalised here. */
  clientAddress: string;
  clientInfo?: string | null;
  /**
   * Runs once the password is right, before the limits are checked: web mail ends the
   * browser's previous session here so that a second sign-in replaces it rather than counting twice.
   */
  authenticated?: (user: User) => Promise<void>;
  /** The connection's (or request's) logger: the logon line carries its id. Never given the password. */
  log?: LogonLog;
}

export type LogonResult =
  /** `session` is null for SMTP AUTH only; its limit slots are released when the session ends. */
  | { ok: true; user: User; session: StoreSession | null; clientAddress: string }
  | { ok: false; refusal: LogonRefusal };

/** Protocol names in the throttling event (2915), as Exchange writes them. */
const EVENT_PROTOCOL: Record<ServiceKind, string> = { imap: 'IMAP4', pop3: 'POP3', owa: 'OWA', ews: 'EWS', eas: 'EAS' };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The password check, in one place for every front end: through the verified-credentials cache,
 * so that a client logging on again within its TTL skips scrypt (a wrong password never does).
 */
export async function checkPassword(ctx: Pick<AccessContext, 'credentials'>, identity: string, password: string): Promise<User | null> {
  return ctx.credentials.verify(identity, password);
}

/** The protocol/throttling limits of a front end; SMTP has none. */
export function connectionLimitsOf(ctx: Pick<AccessContext, 'connections'>, kind: LogonKind): ConnectionLimits | null {
  return kind === 'smtp' ? null : ctx.connections[kind === 'pop3' ? 'pop' : kind];
}

export function lockoutRefusal(l: GuardLockout): LogonRefusal {
  return {
    kind: 'lockout', setting: LOCKOUT_RULE, limit: l.limit, count: l.failures, scope: l.clientAddress, counted: 'failed logons',
    clientAddress: l.clientAddress, retryAfterSeconds: Math.max(1, Math.ceil(l.retryAfterMs / 1000)),
  };
}

export function accountSlowdownRefusal(s: AccountSlowdown, clientAddress: string): LogonRefusal {
  return {
    kind: 'lockout', setting: ACCOUNT_RULE, limit: s.limit, count: s.failures, scope: s.account, counted: 'failed logons',
    clientAddress, retryAfterSeconds: Math.max(1, Math.ceil(s.retryAfterMs / 1000)),
  };
}

/** A wrong password: counted against the guard's rule, `failures` of `lockoutAfter` from the address. */
export function authRefusal(lockoutAfter: number, failures: number, clientAddress: string): LogonRefusal {
  return { kind: 'auth', setting: LOCKOUT_RULE, limit: lockoutAfter, count: failures, scope: clientAddress, counted: 'failed logons', clientAddress };
}

/** Event 1030 (protocol layer) or 2915 (throttling) for a refusal by the connection limits. */
export async function logLimitRefusal(ctx: AccessContext, kind: ServiceKind, r: LogonRefusal, user?: string): Promise<void> {
  const event = r.kind === 'throttling'
    ? ctx.events.write('throttlingLimit', [r.scope, r.setting, r.count, r.limit, EVENT_PROTOCOL[kind]], user)
    : ctx.events.write(kind === 'pop3' ? 'popConnectionLimit' : 'imapConnectionLimit', [r.setting, r.count, r.limit, r.scope, r.clientAddress], user);
  await event.catch(() => undefined);
}

/** The pipeline (`admit`), with every outcome counted and logged once, here, for all front ends. */
export async function logon(ctx: AccessContext, req: LogonRequest): Promise<LogonResult> {
  const frontEnd = req.kind;
  const log = req.log ?? NO_LOG;
  const record = { frontEnd, identity: req.identity.trim(), client: normaliseClientAddress(req.clientAddress) } as const;
  let result: LogonResult;
  try {
    result = await admit(ctx, req);
  } catch (err) {
    recordLogon(ctx.metrics, log, { ...record, outcome: 'error', reason: (err as Error).message });
    throw err;
  }
  if (result.ok) recordLogon(ctx.metrics, log, { ...record, identity: result.user.address, outcome: 'success', session: result.session?.id });
  else {
    const r = result.refusal;
    recordLogon(ctx.metrics, log, { ...record, outcome: r.kind, reason: `${r.setting}: ${r.count} of ${r.limit} ${r.counted} for ${r.scope}` });
  }
  return result;
}

const NO_LOG: LogonLog = { info: () => undefined, error: () => undefined };

async function admit(ctx: AccessContext, req: LogonRequest): Promise<LogonResult> {
  const identity = req.identity.trim();
  const clientAddress = normaliseClientAddress(req.clientAddress);
  await ctx.settings.refresh();

  const account = accountKey(identity);
  const known = await ctx.accountGuard.isKnown(account, clientAddress);
  const reserved = await ctx.bruteForceGuard.reserve(clientAddress);
  // An address locked out by anyone behind it (an office NAT) still admits the accounts that
  // logged on from it before, within their own failures from it (account-guard.ts passLockout).
  const passed = !reserved.ok && known && (await ctx.accountGuard.passLockout(account, clientAddress, ctx.bruteForceGuard.policy.lockoutAfter));
  if (!reserved.ok && !passed) return { ok: false, refusal: lockoutRefusal(reserved.lockout) };
  const guardSlot = reserved.ok ? reserved.slot : null;
  const acct = await ctx.accountGuard.reserve(account, clientAddress, known);
  if (!acct.ok) {
    if (guardSlot) await ctx.bruteForceGuard.succeeded(guardSlot); // no password was checked: give the slot back
    return { ok: false, refusal: accountSlowdownRefusal(acct.slowdown, clientAddress) };
  }
  if (passed) acct.slot.passedLockout = true;
  let user: User | null;
  try {
    user = await checkPassword(ctx, identity, req.password);
  } catch (err) {
    if (guardSlot) await ctx.bruteForceGuard.succeeded(guardSlot); // not a failed guess: give the slot back
    await ctx.accountGuard.released(acct.slot);
    throw err;
  }
  if (!user) {
    await ctx.accountGuard.failed(acct.slot);
    if (!guardSlot) return { ok: false, refusal: authRefusal(ctx.bruteForceGuard.policy.lockoutAfter, ctx.bruteForceGuard.policy.lockoutAfter, clientAddress) };
    const { failures, delayMs } = await ctx.bruteForceGuard.failed(guardSlot, req.kind, identity);
    await sleep(delayMs);
    return { ok: false, refusal: authRefusal(ctx.bruteForceGuard.policy.lockoutAfter, failures, clientAddress) };
  }
  if (guardSlot) await ctx.bruteForceGuard.succeeded(guardSlot);
  await ctx.accountGuard.succeeded(acct.slot);
  await req.authenticated?.(user);
  if (req.kind === 'smtp') return { ok: true, user, session: null, clientAddress };

  const limits = connectionLimitsOf(ctx, req.kind)!;
  const admitted = limits.admitUser(user, clientAddress);
  if (!admitted.ok) {
    await logLimitRefusal(ctx, req.kind, admitted.refusal, user.address);
    return { ok: false, refusal: admitted.refusal };
  }
  let session: StoreSession;
  try {
    session = await ctx.governor.open({ user, kind: req.kind, clientAddress, clientInfo: req.clientInfo });
  } catch (err) {
    admitted.release();
    if (err instanceof TooManyObjectsOpened) return { ok: false, refusal: storeLimitRefusal(err, clientAddress) };
    throw err;
  }
  // the connection/throttling slot lives exactly as long as the store session
  session.onEnd(() => admitted.release());
  return { ok: true, user, session, clientAddress };
}
