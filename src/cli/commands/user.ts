import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { positional, readPasswordFromStdin, requireUser, withStore } from '../common.js';
import { printJson, printTable } from '../output.js';

/** mailwarden user add|list|set-password|remove */
export async function userCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  switch (sub) {
    case 'add': {
      allowOnly(args, ['password-stdin', 'display-name', 'database', 'admin']);
      const address = positional(args, 0, 'ADDRESS (e.g. alice@example.com)');
      if (!args.switches.has('password-stdin')) throw new CliError('give the password on standard input with --password-stdin (never on the command line)');
      const password = await readPasswordFromStdin();
      const user = await withStore(args, (s) =>
        s.createUser({ address, password, displayName: args.flags.get('display-name'), database: args.flags.get('database'), isAdmin: args.switches.has('admin') }), true);
      if (args.switches.has('json')) return printJson(user);
      process.stdout.write(`added ${user.address} (alias ${user.alias}, database "${user.databaseName}")\n  DN ${user.dn}\n`);
      return;
    }
    case 'list': {
      allowOnly(args, []);
      const users = await withStore(args, (s) => s.listUsers());
      if (args.switches.has('json')) return printJson(users);
      if (users.length === 0) return void process.stdout.write('no users yet: add one with "mailwarden user add ADDRESS --password-stdin"\n');
      printTable(['ADDRESS', 'ALIAS', 'DISPLAY NAME', 'DATABASE', 'ADMIN'], users.map((u) => [u.address, u.alias, u.displayName, u.databaseName, u.isAdmin ? 'yes' : '']));
      return;
    }
    case 'set-password': {
      allowOnly(args, ['password-stdin']);
      if (!args.switches.has('password-stdin')) throw new CliError('give the new password on standard input with --password-stdin');
      const identity = positional(args, 0, 'ADDRESS');
      const password = await readPasswordFromStdin();
      await withStore(args, async (s) => s.setPassword((await requireUser(s, identity)).id, password));
      process.stdout.write(`password of ${identity} changed\n`);
      return;
    }
    case 'remove': {
      allowOnly(args, []);
      const identity = positional(args, 0, 'ADDRESS');
      await withStore(args, async (s) => s.removeUser((await requireUser(s, identity)).id));
      process.stdout.write(`removed ${identity} and its mailbox\n`);
      return;
    }
    default:
      throw new CliError(`unknown "user ${sub ?? ''}": use add, list, set-password or remove`);
  }
}
