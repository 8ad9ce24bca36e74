import type { LiveSettings } from '../settings/resolve.js';
import type { ServiceKind } from '../settings/catalog.js';
import type { User } from '../store/types.js';
import type { LogonRefusal } from './refusal.js';

const THROTTLING: Record<ServiceKind, string> = {
  imap: 'ThrottlingPolicy.IMAPMaxConcurrency', pop3: 'ThrottlingPolicy.POPMaxConcurrency', owa: 'ThrottlingPolicy.OWAMaxConcurrency',
  ews: 'ThrottlingPolicy.EWSMaxConcurrency', eas: 'ThrottlingPolicy.EASMaxConcurrency',
};
/** Only POP3 and IMAP have a protocol connection layer (PopSettings/ImapSettings); the HTTP front ends have throttling only. */
const PREFIX: Partial<Record<ServiceKind, string>> = { pop3: 'PopSettings', imap: 'ImapSettings' };
/** What the throttling layer counts, in the words of the refusal. */
const COUNTED: Record<ServiceKind, string> = {
  imap: 'connections', pop3: 'connections', owa: 'web mail sessions', ews: 'EWS sessions', eas: 'ActiveSync sessions',
};

type Admission = { ok: true; release: () => void } | { ok: false; refusal: LogonRefusal };

/** An admission whose release runs `free` once, however often the front end calls it. */
function admitted(free: () => void): Admission {
  let done = false;
  return {
    ok: true,
    release: () => {
      if (done) return;
      done = true;
      free();
    },
  };
}

/** Lowers a key's count by one, dropping the key at zero (the maps hold only keys in use). */
function lower<K>(counts: Map<K, number>, key: K): void {
  const n = (counts.get(key) ?? 1) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/**
 * The protocol connection layer (PopSettings/ImapSettings) and the throttling layer of one
 * front end on this node. Counts are raised and checked in one synchronous step (so parallel
 * logons cannot both pass the last slot) and lowered by the returned release function, which
 * is idempotent.
 */
export class ConnectionLimits {
  private total = 0;
  private readonly byIp = new Map<string, number>();
  private readonly byUser = new Map<number, number>();

  constructor(
    readonly kind: ServiceKind,
    private readonly settings: LiveSettings,
  ) {}

  get hasProtocolLayer(): boolean {
    return PREFIX[this.kind] !== undefined;
  }

  private setting(name: string): string {
    return `${PREFIX[this.kind]}.${name}`;
  }

  /** On TCP accept: MaxConnections and MaxConnectionFromSingleIP (POP3 and IMAP only). */
  admitConnection(ip: string): Admission {
    if (!this.hasProtocolLayer) return { ok: true, release: () => undefined };
    const refusal = (setting: string, limit: number, count: number, scope: string): Admission =>
      ({ ok: false, refusal: { kind: 'protocol', setting: this.setting(setting), limit, count, scope, counted: 'connections', clientAddress: ip } });
    const max = this.settings.int(this.setting('MaxConnections'));
    if (this.total >= max) return refusal('MaxConnections', max, this.total, 'the server');
    const perIp = this.settings.int(this.setting('MaxConnectionFromSingleIP'));
    const fromIp = this.byIp.get(ip) ?? 0;
    if (fromIp >= perIp) return refusal('MaxConnectionFromSingleIP', perIp, fromIp, ip);
    this.total += 1;
    this.byIp.set(ip, fromIp + 1);
    return admitted(() => {
      this.total -= 1;
      lower(this.byIp, ip);
    });
  }

  /** After authentication, before the store session: MaxConnectionsPerUser, then throttling. */
  admitUser(user: User, clientAddress: string): Admission {
    const refusal = this.check(user, clientAddress);
    if (refusal) return { ok: false, refusal };
    this.byUser.set(user.id, (this.byUser.get(user.id) ?? 0) + 1);
    return admitted(() => lower(this.byUser, user.id));
  }

  /** What admitUser would answer now, without counting anything (the predicate `access explain` runs). */
  check(user: User, clientAddress: string): LogonRefusal | null {
    const held = this.byUser.get(user.id) ?? 0;
    if (this.hasProtocolLayer) {
      const perUser = this.settings.int(this.setting('MaxConnectionsPerUser'));
      if (held >= perUser) {
        return { kind: 'protocol', setting: this.setting('MaxConnectionsPerUser'), limit: perUser, count: held, scope: user.address, counted: 'connections', clientAddress };
      }
    }
    const setting = THROTTLING[this.kind];
    const concurrency = this.settings.int(setting, { userId: user.id, databaseId: user.databaseId });
    if (concurrency > 0 && held >= concurrency) {
      return { kind: 'throttling', setting, limit: concurrency, count: held, scope: user.address, counted: COUNTED[this.kind], clientAddress };
    }
    return null;
  }

  userConnections(userId: number): number {
    return this.byUser.get(userId) ?? 0;
  }

  get connections(): number {
    return this.total;
  }
}
