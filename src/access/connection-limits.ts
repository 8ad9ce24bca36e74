import type { LiveSettings } from '../settings/resolve.js';
import type { User } from '../store/types.js';

export type LimitedProtocol = 'pop' | 'imap';

/** Which layer refused, with the setting that governs it: every refusal names its limit. */
export interface LayerRefusal {
  layer: 'protocol' | 'throttling';
  setting: string;
  limit: number;
  count: number;
  /** "the server", "127.0.0.1", "alice@example.com" */
  scope: string;
  /** POP3/IMAP answer family: IN-USE for per-user limits, SYS/TEMP for server capacity. */
  code: 'IN-USE' | 'SYS/TEMP';
}

const THROTTLING: Record<LimitedProtocol, string> = { pop: 'ThrottlingPolicy.POPMaxConcurrency', imap: 'ThrottlingPolicy.IMAPMaxConcurrency' };
const PREFIX: Record<LimitedProtocol, string> = { pop: 'PopSettings', imap: 'ImapSettings' };

/**
 * The protocol connection layer (PopSettings/ImapSettings) and the throttling layer of one
 * protocol on this node. Counts are raised and checked in one synchronous step and lowered
 * by the returned release function, which is idempotent.
 */
export class ConnectionLimits {
  private total = 0;
  private readonly byIp = new Map<string, number>();
  private readonly byUser = new Map<number, number>();

  constructor(
    readonly protocol: LimitedProtocol,
    private readonly settings: LiveSettings,
  ) {}

  private setting(name: string): string {
    return `${PREFIX[this.protocol]}.${name}`;
  }

  /** On TCP accept: MaxConnections and MaxConnectionFromSingleIP. */
  admitConnection(ip: string): { ok: true; release: () => void } | { ok: false; refusal: LayerRefusal } {
    const max = this.settings.int(this.setting('MaxConnections'));
    if (this.total >= max) return { ok: false, refusal: { layer: 'protocol', setting: this.setting('MaxConnections'), limit: max, count: this.total, scope: 'the server', code: 'SYS/TEMP' } };
    const perIp = this.settings.int(this.setting('MaxConnectionFromSingleIP'));
    const fromIp = this.byIp.get(ip) ?? 0;
    if (fromIp >= perIp) return { ok: false, refusal: { layer: 'protocol', setting: this.setting('MaxConnectionFromSingleIP'), limit: perIp, count: fromIp, scope: ip, code: 'SYS/TEMP' } };
    this.total += 1;
    this.byIp.set(ip, fromIp + 1);
    let done = false;
    return {
      ok: true,
      release: () => {
        if (done) return;
        done = true;
        this.total -= 1;
        const n = (this.byIp.get(ip) ?? 1) - 1;
        if (n <= 0) this.byIp.delete(ip);
        else this.byIp.set(ip, n);
      },
    };
  }

  /** After authentication, before the store session: MaxConnectionsPerUser, then throttling. */
  admitUser(user: User): { ok: true; release: () => void } | { ok: false; refusal: LayerRefusal } {
    const refusal = this.check(user);
    if (refusal) return { ok: false, refusal };
    this.byUser.set(user.id, (this.byUser.get(user.id) ?? 0) + 1);
    let done = false;
    return {
      ok: true,
      release: () => {
        if (done) return;
        done = true;
        const n = (this.byUser.get(user.id) ?? 1) - 1;
        if (n <= 0) this.byUser.delete(user.id);
        else this.byUser.set(user.id, n);
      },
    };
  }

  /** What admitUser would answer now, without counting anything (used by `access explain`). */
  check(user: User): LayerRefusal | null {
    const held = this.byUser.get(user.id) ?? 0;
    const perUser = this.settings.int(this.setting('MaxConnectionsPerUser'));
    if (held >= perUser) return { layer: 'protocol', setting: this.setting('MaxConnectionsPerUser'), limit: perUser, count: held, scope: user.address, code: 'IN-USE' };
    const ctx = { userId: user.id, databaseId: user.databaseId };
    const concurrency = this.settings.int(THROTTLING[this.protocol], ctx);
    if (concurrency > 0 && held >= concurrency) return { layer: 'throttling', setting: THROTTLING[this.protocol], limit: concurrency, count: held, scope: user.address, code: 'SYS/TEMP' };
    return null;
  }

  userConnections(userId: number): number {
    return this.byUser.get(userId) ?? 0;
  }

  get connections(): number {
    return this.total;
  }
}

export function refusalText(r: LayerRefusal): string {
  return `${r.count} of ${r.limit} connections in use for ${r.scope} (${r.setting})`;
}
