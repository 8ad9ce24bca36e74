/** A small argv parser: positionals, `--flag value`, `--flag=value`, and declared boolean switches. */
export class CliError extends Error {}

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string>;
  switches: Set<string>;
}

const SWITCHES = new Set(['json', 'password-stdin', 'admin', 'help', 'quiet', 'insecure', 'keep-names', 'force']);

export function parseArgs(argv: string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = (eq > 0 ? a.slice(2, eq) : a.slice(2)).toLowerCase();
      if (SWITCHES.has(name) && eq < 0) {
        switches.add(name);
        continue;
      }
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new CliError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      positionals.push(a);
    }
  }
  return { positionals, flags, switches };
}

/** Refuses flags a command does not know, so a typo is never silently ignored. */
export function allowOnly(args: ParsedArgs, allowed: string[]): void {
  for (const f of [...args.flags.keys(), ...args.switches]) {
    if (!allowed.includes(f) && f !== 'data' && f !== 'redis' && f !== 'store' && f !== 'json' && f !== 'help') throw new CliError(`unknown option --${f}`);
  }
}

export function intFlag(args: ParsedArgs, name: string, def: number): number {
  const v = args.flags.get(name);
  if (v === undefined) return def;
  if (!/^[0-9]+$/.test(v) || Number(v) > 65535) throw new CliError(`--${name} needs a port number 0-65535, got "${v}"`);
  return Number(v);
}

/** "2026-11-25T10:00Z", "2026-11-25", or relative "30s", "10m", "2h", "7d". */
export function parseSince(text: string): Date {
  const rel = /^(\d+)([smhd])$/.exec(text);
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(rel[1]) * unit);
  }
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new CliError(`--since needs a time like 2026-11-25T10:00Z or 10m/2h/7d, got "${text}"`);
  return d;
}
