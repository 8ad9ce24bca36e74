import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { dataDirOf, positional, requireUser, withStore } from '../common.js';
import { printJson, printTable } from '../output.js';
import { findSetting, formatSettingValue, parseSettingValue, SETTINGS, type SettingDef } from '../../settings/catalog.js';
import { resolveSettingWithSource } from '../../settings/resolve.js';
import { readRunningServer } from '../../server/running.js';
import type { Store } from '../../store/store.js';
import type { SettingOverride } from '../../store/types.js';

function requireSetting(name: string): SettingDef {
  const def = findSetting(name);
  if (!def) throw new CliError(`unknown setting "${name}" (list them with "mailwarden settings get")`);
  return def;
}

/** --user / --database → the override's scope, checking that the setting may be overridden there. */
async function scopeOf(store: Store, args: ParsedArgs, def: SettingDef | null): Promise<{ scope: SettingOverride['scope']; targetId: number; label: string; userId?: number; databaseId?: number }> {
  const user = args.flags.get('user');
  const database = args.flags.get('database');
  if (user && database) throw new CliError('give --user or --database, not both');
  if ((user || database) && def && def.scope !== 'overridable') throw new CliError(`"${def.name}" is server-wide; it cannot be set per ${user ? 'user' : 'database'}`);
  if (user) {
    const u = await requireUser(store, user);
    return { scope: 'user', targetId: u.id, label: `user ${u.address}`, userId: u.id, databaseId: u.databaseId };
  }
  if (database) {
    const d = await store.findDatabase(database);
    if (!d) throw new CliError(`no mailbox database "${database}"`);
    return { scope: 'database', targetId: d.id, label: `database "${d.name}"`, databaseId: d.id };
  }
  return { scope: 'server', targetId: 0, label: 'server' };
}

/** mailwarden settings get|set|unset */
export async function settingsCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  allowOnly(args, ['user', 'database']);
  if (sub === 'get') {
    const name = args.positionals[0];
    const defs = name ? [requireSetting(name)] : SETTINGS;
    const rows = await withStore(args, async (store) => {
      const sc = await scopeOf(store, args, null);
      const overrides = await store.listSettingOverrides();
      return defs.map((def) => {
        const r = resolveSettingWithSource(def.name, overrides, { userId: sc.userId, databaseId: sc.databaseId });
        return { name: def.name, value: r.value, display: formatSettingValue(def, r.value), source: r.source, default: def.default, scope: def.scope, description: def.description };
      });
    });
    if (args.switches.has('json')) return printJson(name ? rows[0] : rows);
    printTable(['SETTING', 'VALUE', 'FROM'], rows.map((r) => [r.name, r.display, r.source]));
    return;
  }
  if (sub === 'set') {
    const def = requireSetting(positional(args, 0, 'NAME'));
    const text = positional(args, 1, 'VALUE');
    if (args.positionals.length > 2) throw new CliError(`too many arguments; quote a setting name with spaces: settings set "${def.name}" VALUE`);
    const parsed = parseSettingValue(def, text);
    if ('error' in parsed) throw new CliError(parsed.error);
    const label = await withStore(args, async (store) => {
      const sc = await scopeOf(store, args, def);
      await store.putSetting({ scope: sc.scope, targetId: sc.targetId, name: def.name, value: String(parsed.value) });
      return sc.label;
    });
    const running = readRunningServer(dataDirOf(args));
    if (args.switches.has('json')) return printJson({ name: def.name, value: parsed.value, scope: label, appliedLive: !!running });
    process.stdout.write(`${def.name} = ${formatSettingValue(def, parsed.value)} (${label})\n`);
    process.stdout.write(running ? `the running server (pid ${running.pid}) applies it from the next logon, and to open sessions within a second; no restart needed\n` : 'applies when the server starts\n');
    return;
  }
  if (sub === 'unset') {
    const def = requireSetting(positional(args, 0, 'NAME'));
    const removed = await withStore(args, async (store) => {
      const sc = await scopeOf(store, args, def);
      return store.deleteSetting({ scope: sc.scope, targetId: sc.targetId, name: def.name });
    });
    process.stdout.write(removed ? `${def.name}: override removed\n` : `${def.name}: no override was set there\n`);
    return;
  }
  throw new CliError(`unknown "settings ${sub ?? ''}": use get, set or unset`);
}
