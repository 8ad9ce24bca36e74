import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { printJson } from '../output.js';
import { isPostgresUrl, prepareDataDir, STORE_FILE } from '../../server/create-context.js';
import { copyStore, type StoreLocation } from '../../store/copy.js';

/** A --from/--to value: a postgres://… URL or a data folder (its SQLite file). */
function locationOf(args: ParsedArgs, flag: 'from' | 'to'): StoreLocation {
  const v = args.flags.get(flag);
  if (!v) throw new CliError(`store copy needs --${flag} DATA_DIR or --${flag} postgres://HOST/DB`);
  if (isPostgresUrl(v)) return { kind: 'postgres', url: v };
  const dir = prepareDataDir(resolve(v), flag === 'to');
  const file = join(dir, STORE_FILE);
  if (flag === 'from' && !existsSync(file)) throw new CliError(`no Mailwarden store in ${dir}`);
  return { kind: 'sqlite', file };
}

/** A URL as it may be printed: without its password. */
function shown(l: StoreLocation): string {
  if (l.kind === 'sqlite') return l.file;
  const u = new URL(l.url);
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * mailwarden store copy --from A --to B: the whole store, ids, UIDVALIDITY, UIDs and MODSEQs
 * kept, into an empty store, verified (store/copy.ts). Stop the nodes on the source first.
 */
export async function storeCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  allowOnly(args, ['from', 'to']);
  if (sub !== 'copy') throw new CliError('usage: mailwarden store copy --from DATA_DIR|postgres://… --to postgres://…|DATA_DIR');
  const from = locationOf(args, 'from');
  const to = locationOf(args, 'to');
  if (from.kind === to.kind && shown(from) === shown(to)) throw new CliError('--from and --to name the same store');
  const report = await copyStore(from, to);
  if (args.switches.has('json')) return printJson({ from: shown(from), to: shown(to), verified: true, ...report });
  process.stdout.write(
    `copied ${shown(from)} to ${shown(to)}: ${report.users} users, ${report.folders} folders, ${report.messages} messages (${report.bytes} bytes);\n` +
      'verified: per-folder counts, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, every UID, MODSEQ and flags, and the SHA-256 of every message\n',
  );
}
