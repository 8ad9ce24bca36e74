#!/usr/bin/env node
import { CliError, parseArgs } from './args.js';
import { StoreError } from '../store/errors.js';
import { userCommand } from './commands/user.js';
import { databaseCommand } from './commands/database.js';
import { settingsCommand } from './commands/settings.js';
import { sessionsCommand } from './commands/sessions.js';
import { eventsCommand } from './commands/events.js';
import { accessCommand } from './commands/access.js';
import { exchangeCommand, isExchangeVerb } from './commands/exchange.js';
import { extraCommands } from './extra-commands.js';
import { VERSION } from '../version.js';

const USAGE = `mailwarden ${VERSION} — mailbox server with a visible session governor

  serve [--data DIR] [--config FILE] [--host H] [--imap-port N] [--imaps-port N] [--pop3-port N]
        [--pop3s-port N] [--smtp-port N] [--submission-port N] [--submissions-port N] [--http-port N]
  user add ADDRESS --password-stdin [--display-name N] [--database DB] [--admin]
  user list | user set-password ADDRESS --password-stdin | user remove ADDRESS
  database add NAME | database list
  settings get [NAME] [--user U | --database DB]
  settings set NAME VALUE [--user U | --database DB] | settings unset NAME [--user U | --database DB]
  sessions list [--user U] | sessions kill ID
  events list [--id N] [--since T] [--level L] [--provider P] [--user U]
  events export [--id N] [--record R] [--since T] --format xml
  access explain USER --protocol imap|pop3|owa|ews|eas [--from IP] [--password-stdin]
  queue list | queue retry ID | queue delete ID
  backup --to FILE | restore --from FILE      (consistent online snapshot of the data folder)
  import maildir PATH --user U | import mbox FILE… --user U [--folder NAME]
  import imap --from imaps://HOST[:PORT] --user U [--source-user X] --password-stdin [--insecure|--ca FILE]
  tls show [--config FILE]                   (certificates served, fingerprints, how to trust them)
  devices list [--user U] | devices remove USER DEVICEID
  Get-PopSettings | Set-PopSettings -Param V | Get-ImapSettings | Set-ImapSettings -Param V
  Get-ThrottlingPolicy | Set-ThrottlingPolicy -Param V [-Identity U] | Get-LogonStatistics [-Identity U]
  Get-MobileDevice [-Mailbox U] | Remove-MobileDevice -Identity U -DeviceId ID

Every command takes --data DIR (default ./data) and --json for machine-readable output.
`;

/** Commands whose first word after the command is an option or a value, not a subcommand. */
const NO_SUBCOMMAND = new Set(['serve', 'backup', 'restore']);

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  if (cmd === '--version' || cmd === 'version') {
    process.stdout.write(VERSION + '\n');
    return;
  }
  if (isExchangeVerb(cmd)) {
    // PowerShell-style parameters (-Name value); --data/--json may follow anywhere
    const ours: string[] = [];
    const theirs: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--data') ours.push(rest[i], rest[++i] ?? '');
      else if (rest[i] === '--json') ours.push(rest[i]);
      else theirs.push(rest[i]);
    }
    return exchangeCommand(cmd, theirs, parseArgs(ours));
  }
  const sub = NO_SUBCOMMAND.has(cmd) ? undefined : rest[0];
  const args = parseArgs(NO_SUBCOMMAND.has(cmd) ? rest : rest.slice(1));
  switch (cmd) {
    case 'serve': return (await import('./commands/serve.js')).serveCommand(args); // loads the servers only when serving
    case 'user': return userCommand(sub, args);
    case 'database': return databaseCommand(sub, args);
    case 'settings': return settingsCommand(sub, args);
    case 'sessions': return sessionsCommand(sub, args);
    case 'events': return eventsCommand(sub, args);
    case 'access': return accessCommand(sub, args);
    default: {
      const extra = extraCommands[cmd];
      if (extra) return extra(sub, args);
      throw new CliError(`unknown command "${cmd}" (see "mailwarden help")`);
    }
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    if (err instanceof CliError || err instanceof StoreError || (err instanceof Error && !(err instanceof TypeError) && !(err instanceof ReferenceError))) {
      process.stderr.write(`mailwarden: ${(err as Error).message.split('\n')[0]}\n`);
      process.exit(2);
    }
    process.stderr.write(`mailwarden: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(70);
  },
);
