import type { LiveSettings } from '../settings/resolve.js';
import type { ServiceKind } from '../settings/catalog.js';
import type { User } from '../store/types.js';
import type { UserSessionCounts } from '../governor/accounting.js';

export type ExplainProtocol = ServiceKind;

export interface LayerVerdict {
  layer: 'protocol connection limits' | 'throttling policy' | 'store session limits';
  applies: boolean;
  refuses: boolean;
  /** Each limit checked: setting, effective value, where the value comes from, current count. */
  checks: Array<{ setting: string; limit: number | 'unlimited'; source: string; count: number; refuses: boolean }>;
  /** What the client would see when this layer refuses. */
  clientSees?: string;
  /** The command that would lift this layer's refusal. */
  remedy?: string;
}

export interface AccessExplanation {
  user: string;
  dn: string;
  protocol: ExplainProtocol;
  allowed: boolean;
  refusedBy: LayerVerdict['layer'] | null;
  layers: LayerVerdict[];
  notes: string[];
}

const PROTO_PREFIX: Partial<Record<ExplainProtocol, string>> = { pop3: 'PopSettings', imap: 'ImapSettings' };
const THROTTLE: Record<ExplainProtocol, string> = {
  imap: 'ThrottlingPolicy.IMAPMaxConcurrency', pop3: 'ThrottlingPolicy.POPMaxConcurrency', owa: 'ThrottlingPolicy.OWAMaxConcurrency',
  ews: 'ThrottlingPolicy.EWSMaxConcurrency', eas: 'ThrottlingPolicy.EASMaxConcurrency',
};

/**
 * Says which access layer would refuse the user's next logon over `protocol` now, why, and
 * which setting would change it (SPEC §3.5). Layers are evaluated in the order the server
 * applies them; the counts are the running server's (zero when it is not running).
 */
export function explainAccess(
  settings: LiveSettings,
  user: User,
  protocol: ExplainProtocol,
  counts: { protocolConnectionsForUser: number; sessions: UserSessionCounts },
): AccessExplanation {
  const ctx = { userId: user.id, databaseId: user.databaseId };
  const q = (s: string) => `"${s}"`;
  const layers: LayerVerdict[] = [];

  const prefix = PROTO_PREFIX[protocol];
  if (prefix) {
    const e = settings.explain(`${prefix}.MaxConnectionsPerUser`, ctx);
    const limit = Number(e.value);
    const refuses = counts.protocolConnectionsForUser >= limit;
    layers.push({
      layer: 'protocol connection limits', applies: true, refuses,
      checks: [{ setting: e.def.name, limit, source: e.source, count: counts.protocolConnectionsForUser, refuses }],
      clientSees: protocol === 'pop3' ? '-ERR [IN-USE] … (PopSettings.MaxConnectionsPerUser)' : 'NO [UNAVAILABLE] … (ImapSettings.MaxConnectionsPerUser)',
      remedy: `mailwarden settings set ${e.def.name} ${counts.protocolConnectionsForUser + 1}`,
    });
  } else {
    layers.push({ layer: 'protocol connection limits', applies: false, refuses: false, checks: [] });
  }

  // the throttling layer counts the user's concurrent connections/sessions of this protocol
  const held = prefix ? counts.protocolConnectionsForUser : counts.sessions.byKind[protocol] ?? 0;
  const t = settings.explain(THROTTLE[protocol], ctx);
  const tLimit = Number(t.value);
  const tRefuses = tLimit > 0 && held >= tLimit;
  layers.push({
    layer: 'throttling policy', applies: true, refuses: tRefuses,
    checks: [{ setting: t.def.name, limit: tLimit === 0 ? 'unlimited' : tLimit, source: t.source, count: held, refuses: tRefuses }],
    clientSees: protocol === 'pop3' ? '-ERR [SYS/TEMP] …' : protocol === 'imap' ? 'NO [UNAVAILABLE] …' : 'HTTP 503',
    remedy: `mailwarden settings set ${q(t.def.name)} ${held + 1} --user ${user.address}`,
  });

  const s = counts.sessions;
  const all = settings.explain('Maximum Allowed Sessions Per User', ctx);
  const svc = settings.explain('Maximum Allowed Service Sessions Per User', ctx);
  const kind = settings.explain(`Maximum Allowed ${protocol.toUpperCase()} Sessions Per User`, ctx);
  const disabled = settings.bool('Disable Session Limit', ctx);
  const kindCount = s.byKind[protocol] ?? 0;
  const checks = [
    { setting: all.def.name, limit: Number(all.value), source: all.source, count: s.all, refuses: !disabled && s.all >= Number(all.value) },
    { setting: svc.def.name, limit: Number(svc.value), source: svc.source, count: s.service, refuses: !disabled && s.service >= Number(svc.value) },
    {
      setting: kind.def.name, limit: Number(kind.value) === 0 ? ('unlimited' as const) : Number(kind.value), source: kind.source, count: kindCount,
      refuses: !disabled && Number(kind.value) > 0 && kindCount >= Number(kind.value),
    },
  ];
  const first = checks.find((c) => c.refuses);
  layers.push({
    layer: 'store session limits', applies: true, refuses: !!first, checks,
    clientSees: first
      ? `Server Unavailable. 15: ${first.count} of ${first.limit} ${first.setting === svc.def.name ? 'service sessions' : first.setting === all.def.name ? 'sessions' : `${protocol} sessions`} in use for ${user.address} (event 9646)`
      : undefined,
    remedy: first ? `mailwarden settings set ${q(first.setting)} ${first.count + 1} --user ${user.address}   (or without --user for the whole server)` : undefined,
  });

  const refusing = layers.find((l) => l.refuses) ?? null;
  const notes: string[] = [];
  const store = layers[2];
  if (store.refuses && (layers[0].applies || layers[1].applies)) {
    notes.push(
      `Raising ${prefix ? `${prefix}.MaxConnectionsPerUser or ` : ''}the throttling policy does not help: the store session limit refuses, and it is a separate layer (KB 980049).`,
    );
  }
  if (disabled) notes.push('"Disable Session Limit" is on for this user: store session limits are counted but not enforced.');
  return { user: user.address, dn: user.dn, protocol, allowed: !refusing, refusedBy: refusing?.layer ?? null, layers, notes };
}
