/**
 * Every setting Mailwarden knows, declared once: its name as in the original
 * (Exchange registry value or cmdlet parameter), a compact alias, default, range
 * and which scopes may override it. The CLI, the admin API, `access explain` and
 * the front ends all read this table; nothing else defines a setting.
 */
export type SettingType = 'int' | 'bool' | 'string' | 'enum';
/** server: one value for the server; overridable: server value with per-database and per-user overrides. */
export type SettingScope = 'server' | 'overridable';

export interface SettingDef {
  name: string;
  aliases: string[];
  group: 'store' | 'objects' | 'pop' | 'imap' | 'throttling' | 'smtp' | 'web' | 'access';
  type: SettingType;
  default: number | boolean | string;
  min?: number;
  max?: number;
  values?: string[];
  scope: SettingScope;
  /** 0 means "no limit" for this int setting. */
  zeroMeansUnlimited?: boolean;
  description: string;
}

export const LOGIN_TYPES = ['SecureLogin', 'PlainTextLogin', 'PlainTextAuthentication'] as const;
export type LoginType = (typeof LOGIN_TYPES)[number];

export const SERVICE_KINDS = ['imap', 'pop3', 'owa', 'ews', 'eas'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];
export type SessionKind = 'admin' | ServiceKind;

/** Per-session object limits (Exchange 2007 MaxObjsPerMapiSession defaults). */
export const OBJECT_LIMIT_DEFAULTS = {
  objtMessage: 250,
  objtFolder: 500,
  objtAttachment: 500,
  objtFolderView: 500,
  objtMessageView: 500,
  objtAttachView: 500,
  objtNotify: 500_000,
  objtStream: 250,
  objtACLView: 50,
  objtRulesView: 50,
  objtFXSrcStrm: 50,
  objtFXDstStrm: 50,
  objtCStream: 50,
} as const;
export type ObjectType = keyof typeof OBJECT_LIMIT_DEFAULTS;
export const OBJECT_TYPES = Object.keys(OBJECT_LIMIT_DEFAULTS) as ObjectType[];

const MAX_INT = 10_000_000;

function protocolSettings(group: 'pop' | 'imap'): SettingDef[] {
  const prefix = group === 'pop' ? 'PopSettings' : 'ImapSettings';
  const proto = group === 'pop' ? 'POP3' : 'IMAP4';
  const conn = (param: string, def: number, description: string): SettingDef => ({
    name: `${prefix}.${param}`,
    aliases: [`${group}.${param}`, `${group === 'pop' ? 'pop3' : 'imap4'}.${param}`],
    group,
    type: 'int',
    default: def,
    min: 1,
    max: 25_000,
    scope: 'server',
    description,
  });
  return [
    conn('MaxConnections', 2000, `${proto} connections the server accepts in total.`),
    conn('MaxConnectionFromSingleIP', 2000, `${proto} connections accepted from one client IP address.`),
    conn('MaxConnectionsPerUser', 32, `${proto} connections one user may hold (protocol layer, not the store limit). Exchange's default is 16; see README "Defaults that differ".`),
    {
      name: `${prefix}.AuthenticatedConnectionTimeout`,
      aliases: [`${group}.AuthenticatedConnectionTimeout`],
      group, type: 'int', default: 1800, min: 1, max: 86_400, scope: 'server',
      description: `Seconds an authenticated ${proto} connection may stay idle before it is closed.`,
    },
    {
      name: `${prefix}.PreAuthenticatedConnectionTimeout`,
      aliases: [`${group}.PreAuthenticatedConnectionTimeout`],
      group, type: 'int', default: 60, min: 1, max: 3600, scope: 'server',
      description: `Seconds a ${proto} connection may take to authenticate (commands do not reset it).`,
    },
    {
      name: `${prefix}.MaxCommandSize`,
      aliases: [`${group}.MaxCommandSize`],
      // IMAP: 64 KiB, as Dovecot, takes every command the RFCs allow (a 30-field ID of 1 KB values,
      // long UID sets); a longer line costs the client that command only (BAD), not the connection
      group, type: 'int', default: group === 'pop' ? 512 : 65_536, min: 40, max: group === 'pop' ? 65_536 : 1_048_576, scope: 'server',
      description: `Longest ${proto} command line accepted, in bytes (literals not counted for IMAP).`,
    },
    {
      name: `${prefix}.LoginType`,
      aliases: [`${group}.LoginType`],
      group, type: 'enum', default: 'SecureLogin', values: [...LOGIN_TYPES], scope: 'server',
      description: 'SecureLogin: passwords only over TLS; PlainTextLogin/PlainTextAuthentication: also without TLS.',
    },
    {
      name: `${prefix}.Banner`,
      aliases: [`${group}.Banner`],
      group, type: 'string', default: `The Mailwarden ${proto} service is ready.`, scope: 'server',
      description: `Greeting sent when a ${proto} client connects.`,
    },
    {
      name: `${prefix}.ProtocolLogEnabled`,
      aliases: [`${group}.ProtocolLogEnabled`],
      group, type: 'bool', default: false, scope: 'server',
      description: `Write one line per ${proto} command and response (passwords masked) to DATA/logs/.`,
    },
  ];
}

function throttling(param: string, def: number, proto: string): SettingDef {
  return {
    name: `ThrottlingPolicy.${param}`,
    aliases: [param, `throttling.${param}`],
    group: 'throttling',
    type: 'int',
    default: def,
    min: 0,
    max: MAX_INT,
    scope: 'overridable',
    zeroMeansUnlimited: true,
    description: `Concurrent ${proto} connections/requests one user may hold (throttling layer; 0 = unlimited).`,
  };
}

export const SETTINGS: SettingDef[] = [
  {
    name: 'Maximum Allowed Sessions Per User',
    aliases: ['max-sessions-per-user', 'MaxSessionsPerUser'],
    group: 'store', type: 'int', default: 32, min: 1, max: MAX_INT, scope: 'overridable',
    description: 'Store sessions one user may hold, all kinds together.',
  },
  {
    name: 'Maximum Allowed Service Sessions Per User',
    aliases: ['max-service-sessions-per-user', 'MaxServiceSessionsPerUser'],
    group: 'store', type: 'int', default: 16, min: 1, max: MAX_INT, scope: 'overridable',
    description: 'Store sessions one user may hold through services (IMAP, POP3, web mail, EWS, ActiveSync) together.',
  },
  ...SERVICE_KINDS.map(
    (kind): SettingDef => ({
      name: `Maximum Allowed ${kind.toUpperCase()} Sessions Per User`,
      aliases: [`max-${kind}-sessions-per-user`],
      group: 'store', type: 'int', default: 0, min: 0, max: MAX_INT, scope: 'overridable', zeroMeansUnlimited: true,
      description: `Store sessions of kind ${kind} one user may hold (0 = only the service limit applies).`,
    }),
  ),
  {
    name: 'Disable Session Limit',
    aliases: ['disable-session-limit'],
    group: 'store', type: 'bool', default: false, scope: 'overridable',
    description: 'When true, the per-user session limits are not enforced (sessions are still counted).',
  },
  {
    name: 'Reclaim Idle Session Seconds',
    aliases: ['reclaim-idle-session-seconds', 'ReclaimIdleSessionSeconds'],
    group: 'store', type: 'int', default: 0, min: 0, max: MAX_INT, scope: 'overridable',
    description: 'When a logon would be refused by a store session limit, end the user\'s longest-idle session of the same kind if it has been idle longer than this many seconds, and admit the logon (event 9648). 0 = off.',
  },
  {
    name: 'Event 9646 Interval Seconds',
    aliases: ['event-9646-interval'],
    group: 'store', type: 'int', default: 60, min: 1, max: 86_400, scope: 'server',
    description: 'At most one event 9646 per user and object type in this many seconds; it carries the refusal count.',
  },
  ...OBJECT_TYPES.map(
    (t): SettingDef => ({
      name: `MaxObjsPerMapiSession.${t}`,
      aliases: [t],
      group: 'objects', type: 'int', default: OBJECT_LIMIT_DEFAULTS[t], min: 1, max: MAX_INT, scope: 'overridable',
      description: `Objects of type ${t} one store session may hold open at once.`,
    }),
  ),
  ...protocolSettings('pop'),
  ...protocolSettings('imap'),
  throttling('IMAPMaxConcurrency', 0, 'IMAP4'),
  throttling('POPMaxConcurrency', 20, 'POP3'),
  throttling('OWAMaxConcurrency', 5, 'web mail'),
  throttling('EWSMaxConcurrency', 10, 'EWS'),
  throttling('EASMaxConcurrency', 10, 'ActiveSync'),
  {
    name: 'ThrottlingPolicy.EASMaxDevices',
    aliases: ['EASMaxDevices', 'throttling.EASMaxDevices'],
    group: 'throttling', type: 'int', default: 100, min: 0, max: MAX_INT, scope: 'overridable', zeroMeansUnlimited: true,
    description: 'ActiveSync devices (partnerships) one user may have; a new device beyond it is refused with status 177 until one is removed (`mailwarden devices remove`). 0 = no limit.',
  },
  {
    name: 'ActiveSync.MaxHeartbeatSeconds',
    aliases: ['eas.MaxHeartbeatSeconds', 'MaxHeartbeatInterval'],
    group: 'web', type: 'int', default: 3540, min: 60, max: 3540, scope: 'server',
    description: 'Longest heartbeat a Ping or a Sync with Wait may ask for (MS-ASCMD: 59 minutes); a longer one is answered with status 5 and this limit.',
  },
  {
    name: 'OwaSettings.SessionIdleTimeout',
    aliases: ['owa.SessionIdleTimeout', 'owa-idle-timeout'],
    group: 'web', type: 'int', default: 1200, min: 10, max: 86_400, scope: 'server',
    description: 'Seconds a web mail session may go without a request before it is signed out and its store session released. An open tab (its push stream) counts as in use, up to OwaSettings.SessionLifetime.',
  },
  {
    name: 'OwaSettings.SessionLifetime',
    aliases: ['owa.SessionLifetime', 'owa-session-lifetime'],
    group: 'web', type: 'int', default: 43_200, min: 60, max: 2_592_000, scope: 'server',
    description: 'Seconds after sign-in when a web mail session ends whatever happens (open tab or not), so a forgotten tab or a stolen cookie does not hold a session for ever.',
  },
  {
    name: 'SmtpSettings.MaxMessageSize',
    aliases: ['smtp.MaxMessageSize', 'MaxMessageSize'],
    group: 'smtp', type: 'int', default: 36_700_160, min: 1024, max: 2_147_483_647, scope: 'server',
    description: 'Largest message accepted over SMTP, in bytes (announced with SIZE).',
  },
  {
    name: 'SmtpSettings.MaxRecipients',
    aliases: ['smtp.MaxRecipients', 'MaxRecipientsPerMessage'],
    group: 'smtp', type: 'int', default: 200, min: 1, max: 100_000, scope: 'server',
    description: 'Recipients accepted for one message.',
  },
  {
    name: 'SmtpSettings.MaxConnectionFromSingleIP',
    aliases: ['smtp.MaxConnectionFromSingleIP'],
    group: 'smtp', type: 'int', default: 100, min: 1, max: 25_000, scope: 'server',
    description: 'SMTP connections accepted from one client IP address.',
  },
  {
    name: 'SmtpSettings.GreetingDelay',
    aliases: ['smtp.GreetingDelay', 'postscreen_greet_wait'],
    group: 'smtp', type: 'int', default: 100, min: 0, max: 30_000, scope: 'server',
    description: 'Milliseconds the port-25 listener waits before its 220 greeting; a client that talks first is answered 421 "You talk too soon" (spam software does). 0 greets at once. Submission and LMTP never wait.',
  },
  {
    name: 'SmtpSettings.InboundAuthentication',
    aliases: ['smtp.InboundAuthentication', 'inbound-auth'],
    group: 'smtp', type: 'bool', default: true, scope: 'server',
    description: 'Checks SPF, DKIM, DMARC and ARC of mail arriving on port 25 and records them in an Authentication-Results header (RFC 8601). LMTP and submission are never checked (the server in front, or the logon, vouches for them).',
  },
  {
    name: 'SmtpSettings.DmarcRejectAction',
    aliases: ['smtp.DmarcRejectAction', 'dmarc-reject-action'],
    group: 'smtp', type: 'enum', default: 'Reject', values: ['Reject', 'Junk', 'HeaderOnly'], scope: 'server',
    description: 'What a message failing DMARC gets when its domain publishes p=reject: Reject (550 5.7.1 at the end of DATA), Junk (delivered to Junk Email), HeaderOnly (delivered to the Inbox; only the Authentication-Results header tells). p=quarantine failures go to Junk Email unless HeaderOnly.',
  },
  {
    name: 'SmtpSettings.MaxConnections',
    aliases: ['smtp.MaxConnections', 'MaxInboundConnection'],
    group: 'smtp', type: 'int', default: 1000, min: 1, max: 25_000, scope: 'server',
    description: 'SMTP connections one listener (smtp, submission, smtps) holds at once; the next is answered 421 4.7.0 (event 1030, MSExchangeFrontEndTransport).',
  },
  {
    name: 'SmtpSettings.CommandTimeout',
    aliases: ['smtp.CommandTimeout'],
    group: 'smtp', type: 'int', default: 60, min: 1, max: 3600, scope: 'server',
    description: 'Seconds within which an SMTP command line must be complete once its first byte arrived; bytes trickling in do not extend it. Then 421 4.4.2 and close (event 1030).',
  },
  {
    name: 'SmtpSettings.DataTimeout',
    aliases: ['smtp.DataTimeout'],
    group: 'smtp', type: 'int', default: 600, min: 1, max: 86_400, scope: 'server',
    description: 'Seconds within which a whole message must arrive after DATA\'s 354 (RFC 5321 4.5.3.2.6 suggests 10 minutes for the final dot). Then 421 4.4.2 and close (event 1030).',
  },
  {
    name: 'Connection Input Budget Bytes',
    aliases: ['input-budget', 'connection-input-budget'],
    group: 'access', type: 'int', default: 1_048_576, min: 65_536, max: 67_108_864, scope: 'server',
    description: 'Client input one IMAP, POP3 or SMTP connection may hold received but not yet consumed (queued pipelined commands, inflated COMPRESS data); past it the server stops reading until half is free. The command being read is bounded by its own limits (command size, message size); of an SMTP message in DATA only this much is held in memory, the rest is spooled to the data folder (spool/smtp-data). Applies to new connections.',
  },
  {
    name: 'Credential Cache TTL Seconds',
    aliases: ['credential-cache-ttl', 'auth_cache_ttl'],
    group: 'access', type: 'int', default: 900, min: 0, max: 86_400, scope: 'server',
    description: 'Seconds a verified password is remembered (as an HMAC, never the password) so that logons skip scrypt; 0 turns the cache off. Wrong passwords are never remembered; set-password and user remove apply at once.',
  },
  {
    name: 'Credential Cache Size',
    aliases: ['credential-cache-size', 'auth_cache_size'],
    group: 'access', type: 'int', default: 10_000, min: 1, max: 1_000_000, scope: 'server',
    description: 'Identities the credential cache remembers at most (least recently used out first).',
  },
  {
    name: 'Default Mailbox Quota Bytes',
    aliases: ['default-quota', 'ProhibitSendReceiveQuota'],
    group: 'store', type: 'int', default: 2_147_483_648, min: 0, max: Number.MAX_SAFE_INTEGER, scope: 'overridable',
    zeroMeansUnlimited: true,
    description: 'Storage quota of a mailbox in bytes (0 = unlimited); delivery beyond it is refused temporarily.',
  },
];

const byKey = new Map<string, SettingDef>();
for (const def of SETTINGS) {
  for (const key of [def.name, ...def.aliases]) byKey.set(normaliseKey(key), def);
}

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[\s_-]+/g, '');
}

// Front ends look settings up by the same literal names over and over (per command, per
// line): remember the answer for each spelling seen, so the normalising regex runs once.
const byLiteral = new Map<string, SettingDef>();

export function findSetting(nameOrAlias: string): SettingDef | undefined {
  const hit = byLiteral.get(nameOrAlias);
  if (hit) return hit;
  const def = byKey.get(normaliseKey(nameOrAlias));
  // only known names are remembered, so arbitrary input (CLI, admin API) cannot grow the map
  if (def && byLiteral.size < 4096) byLiteral.set(nameOrAlias, def);
  return def;
}

export type SettingValue = number | boolean | string;

/** Parses a textual value for a setting; returns an error text for anything out of range or of the wrong type. */
export function parseSettingValue(def: SettingDef, text: string): { value: SettingValue } | { error: string } {
  const t = text.trim();
  switch (def.type) {
    case 'int': {
      const lowered = t.toLowerCase();
      if (def.zeroMeansUnlimited && (lowered === 'unlimited' || lowered === '$null')) return { value: 0 };
      if (!/^[0-9]+$/.test(t)) return { error: `"${def.name}" needs a whole number, got "${text}"` };
      const n = Number(t);
      if (!Number.isSafeInteger(n) || (def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        return { error: `"${def.name}" must be between ${def.min} and ${def.max}, got ${text}` };
      }
      return { value: n };
    }
    case 'bool': {
      const lowered = t.toLowerCase();
      if (['1', 'true', 'yes', 'on', '$true'].includes(lowered)) return { value: true };
      if (['0', 'false', 'no', 'off', '$false'].includes(lowered)) return { value: false };
      return { error: `"${def.name}" needs true or false, got "${text}"` };
    }
    case 'enum': {
      const match = def.values!.find((v) => v.toLowerCase() === t.toLowerCase());
      if (!match) return { error: `"${def.name}" must be one of ${def.values!.join(', ')}, got "${text}"` };
      return { value: match };
    }
    case 'string':
      if (t.length === 0 || t.length > 200 || /[\r\n\0]/.test(t)) {
        return { error: `"${def.name}" needs one line of 1 to 200 characters` };
      }
      return { value: t };
  }
}

export function formatSettingValue(def: SettingDef, v: SettingValue): string {
  if (def.type === 'int' && def.zeroMeansUnlimited && v === 0) return 'unlimited';
  return String(v);
}
