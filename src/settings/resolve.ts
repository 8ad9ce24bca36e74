import { findSetting, parseSettingValue, type SettingDef, type SettingValue } from './catalog.js';
import type { SettingOverride } from '../store/types.js';
import type { Store } from '../store/store.js';

export interface SettingContext {
  userId?: number;
  databaseId?: number;
}

/** Where an effective value came from: `access explain` and `settings get` show it. */
export type SettingSource = 'default' | 'server' | 'database' | 'user';

export function resolveSettingWithSource(
  nameOrAlias: string,
  overrides: SettingOverride[],
  ctx: SettingContext = {},
): { def: SettingDef; value: SettingValue; source: SettingSource } {
  const def = findSetting(nameOrAlias);
  if (!def) throw new Error(`unknown setting "${nameOrAlias}"`);
  const pick = (scope: SettingOverride['scope'], id: number | undefined) =>
    id === undefined ? undefined : overrides.find((o) => o.name === def.name && o.scope === scope && o.targetId === id);
  const candidates: Array<[SettingSource, SettingOverride | undefined]> = [
    ['user', def.scope === 'overridable' ? pick('user', ctx.userId) : undefined],
    ['database', def.scope === 'overridable' ? pick('database', ctx.databaseId) : undefined],
    ['server', pick('server', 0)],
  ];
  for (const [source, o] of candidates) {
    if (!o) continue;
    const parsed = parseSettingValue(def, o.value);
    if ('value' in parsed) return { def, value: parsed.value, source };
  }
  return { def, value: def.default, source: 'default' };
}

export function resolveSetting(nameOrAlias: string, overrides: SettingOverride[], ctx: SettingContext = {}): SettingValue {
  return resolveSettingWithSource(nameOrAlias, overrides, ctx).value;
}

/**
 * StoreOptions.quotaLimit: a mailbox's quota in bytes from 'Default Mailbox Quota Bytes' (user,
 * then database, then server scope), null for 0 (no quota). The store enforces what this says.
 */
export function mailboxQuotaLimit(user: { userId: number; databaseId: number }, overrides: readonly SettingOverride[]): number | null {
  const bytes = Number(resolveSetting('Default Mailbox Quota Bytes', overrides as SettingOverride[], user));
  return bytes > 0 ? bytes : null;
}

/**
 * The running server's view of the settings. `refresh()` costs one small read and reloads
 * only when another process (the CLI, the admin API) changed something; front ends call
 * it before each logon so that a `settings set` applies to the very next session.
 */
export class LiveSettings {
  private overrides: SettingOverride[] = [];
  private version = -1;
  /**
   * Resolved values for the overrides now loaded, by name (as spelled by the caller), user and
   * database. Emptied whenever refresh() loads new overrides, so it never outlives them.
   */
  private resolved = new Map<string, SettingValue>();
  /** Resolved values without a user or database context, by name (bounded by the catalogue). */
  private global = new Map<string, SettingValue>();

  constructor(private readonly store: Store) {}

  async refresh(): Promise<void> {
    const v = await this.store.settingsVersion();
    if (v === this.version) return;
    const overrides = await this.store.listSettingOverrides();
    // another refresh may have loaded a newer version meanwhile: keep the newest
    if (this.version > v) return;
    this.overrides = overrides;
    this.version = v;
    this.resolved = new Map();
    this.global = new Map();
  }

  /**
   * Refreshes every `intervalMs` until the returned function is called, so that a change made by
   * another process (`mailwarden settings set`) reaches sessions that are already open (their
   * object limits, timeouts) without waiting for the next logon. One small read per tick.
   */
  watch(intervalMs: number): () => void {
    const timer = setInterval(() => void this.refresh().catch(() => undefined), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  get(name: string, ctx?: SettingContext): SettingValue {
    // server-wide values (most reads: protocol code asks per command or per line) by name alone,
    // without building a key string per read
    if (ctx === undefined || (ctx.userId === undefined && ctx.databaseId === undefined)) {
      const hit = this.global.get(name);
      if (hit !== undefined) return hit;
      const value = resolveSetting(name, this.overrides, {}); // throws for an unknown name: not cached
      this.global.set(name, value);
      return value;
    }
    const key = `${name}\0${ctx.userId ?? ''}\0${ctx.databaseId ?? ''}`;
    const hit = this.resolved.get(key);
    if (hit !== undefined) return hit;
    const value = resolveSetting(name, this.overrides, ctx); // throws for an unknown name: not cached
    if (this.resolved.size >= 10_000) this.resolved.clear(); // bound: many users × settings
    this.resolved.set(key, value);
    return value;
  }

  int(name: string, ctx?: SettingContext): number {
    return Number(this.get(name, ctx));
  }

  bool(name: string, ctx?: SettingContext): boolean {
    return this.get(name, ctx) === true;
  }

  str(name: string, ctx?: SettingContext): string {
    return String(this.get(name, ctx));
  }

  explain(name: string, ctx: SettingContext = {}) {
    return resolveSettingWithSource(name, this.overrides, ctx);
  }
}
