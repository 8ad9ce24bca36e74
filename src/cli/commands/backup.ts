import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { dataDirOf } from '../common.js';
import { printJson } from '../output.js';
import { backupDataFolder, restoreDataFolder } from '../../server/backup.js';

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

/** mailwarden backup --data DIR --to FILE — a consistent snapshot while the server runs. */
export async function backupCommand(args: ParsedArgs): Promise<void> {
  allowOnly(args, ['to']);
  const to = args.flags.get('to') ?? args.positionals[0];
  if (!to) throw new CliError('name the backup file: mailwarden backup --data DIR --to FILE');
  const s = backupDataFolder(dataDirOf(args), to);
  if (args.switches.has('json')) return printJson(s);
  process.stdout.write(
    `backed up ${dataDirOf(args)} to ${s.file} (${mb(s.bytes)}) in ${(s.ms / 1000).toFixed(1)} s\n` +
      `  ${s.users} users, ${s.folders} folders, ${s.messages} messages as of ${s.createdAt}\n` +
      `  other files: ${s.files.length ? s.files.join(', ') : 'none'}\n` +
      `The file holds password hashes and the TLS private key: keep it as safe as the data folder.\n`,
  );
}

/** mailwarden restore --from FILE --data DIR — into a folder that holds no store yet. */
export async function restoreCommand(args: ParsedArgs): Promise<void> {
  allowOnly(args, ['from']);
  const from = args.flags.get('from') ?? args.positionals[0];
  if (!from) throw new CliError('name the backup file: mailwarden restore --from FILE --data DIR');
  const s = restoreDataFolder(from, dataDirOf(args));
  if (args.switches.has('json')) return printJson(s);
  process.stdout.write(
    `restored ${from} (taken ${s.backupCreatedAt}) into ${s.dataDir} in ${(s.ms / 1000).toFixed(1)} s\n` +
      `  ${s.users} users, ${s.folders} folders, ${s.messages} messages; other files: ${s.files.length ? s.files.join(', ') : 'none'}\n` +
      `Start the server on it: mailwarden serve --data ${s.dataDir}\n`,
  );
}
