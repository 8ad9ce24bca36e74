import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { positional, withStore } from '../common.js';
import { printJson, printTable } from '../output.js';

/** mailwarden database add|list */
export async function databaseCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  allowOnly(args, []);
  if (sub === 'add') {
    const db = await withStore(args, (s) => s.createDatabase(positional(args, 0, 'NAME')));
    if (args.switches.has('json')) return printJson(db);
    process.stdout.write(`added mailbox database "${db.name}"\n`);
    return;
  }
  if (sub === 'list') {
    const dbs = await withStore(args, (s) => s.listDatabases());
    if (args.switches.has('json')) return printJson(dbs);
    printTable(['ID', 'NAME', 'CREATED'], dbs.map((d) => [d.id, d.name, d.createdAt.toISOString()]));
    return;
  }
  throw new CliError(`unknown "database ${sub ?? ''}": use add or list`);
}
