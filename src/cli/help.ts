/**
 * Usage of every command and subcommand, declared once: `mailwarden help` prints all of it, and
 * `--help` (or `-h`) after any command or subcommand prints that command's part and exits 0
 * before anything else runs — no data folder opened, no port bound (issue 14 item 5).
 */
import { VERSION } from '../version.js';

/** Per command group: subcommand → its usage line(s) and what it does (serve has no subcommands: key ''). */
export const COMMAND_HELP: Record<string, Record<string, [usage: string, what: string]>> = {
  serve: {
    '': [
      'serve [--data DIR] [--store postgres://…] [--config FILE] [--host H] [--imap-port N] [--imaps-port N] [--pop3-port N]\n        [--pop3s-port N] [--smtp-port N] [--submission-port N] [--submissions-port N] [--lmtp-port N]\n        [--http-port N] [--redis redis://HOST:PORT]',
      'runs the server until SIGINT/SIGTERM; port 0 picks a free port and the printed line says which',
    ],
  },
  user: {
    add: ['user add ADDRESS --password-stdin [--display-name N] [--database DB] [--admin]', 'adds a mailbox; the password is read from standard input'],
    list: ['user list', 'lists the mailboxes'],
    'set-password': ['user set-password ADDRESS --password-stdin', 'sets a new password (read from standard input); the old one is refused at once'],
    remove: ['user remove ADDRESS', 'removes a mailbox and its mail'],
  },
  database: {
    add: ['database add NAME', 'adds a mailbox database'],
    list: ['database list', 'lists the mailbox databases'],
  },
  settings: {
    get: ['settings get [NAME] [--user U | --database DB]', 'shows settings and where each value comes from'],
    set: ['settings set NAME VALUE [--user U | --database DB]', 'sets a setting; the running server applies it live'],
    unset: ['settings unset NAME [--user U | --database DB]', 'removes an override'],
  },
  sessions: {
    list: ['sessions list [--user U]', 'live store sessions of the running server'],
    kill: ['sessions kill ID', 'ends a live store session'],
  },
  events: {
    list: ['events list [--id N] [--since T] [--level L] [--provider P] [--user U]', 'the event log'],
    export: ['events export [--id N] [--record R] [--since T] --format xml', 'the event log in the Windows Event Viewer XML shape'],
  },
  access: {
    explain: ['access explain USER --protocol imap|pop3|owa|ews|eas [--from IP] [--password-stdin]', 'which access layer would refuse the user now'],
  },
  queue: {
    list: ['queue list', 'the outbound SMTP queue'],
    retry: ['queue retry ID', 'makes a queue entry due now'],
    delete: ['queue delete ID', 'deletes a queue entry (no DSN sent)'],
  },
  backup: {
    '': ['backup --to FILE', 'a consistent snapshot of the data folder (store and keys) while the server runs'],
  },
  restore: {
    '': ['restore --from FILE', 'brings a backup back into a data folder that holds no store yet'],
  },
  import: {
    maildir: ['import maildir PATH --user U [--keep-names]', "moves in a Maildir++ tree (Dovecot's layout): folders, flags, dates"],
    mbox: ['import mbox FILE… --user U [--folder NAME] [--keep-names]', 'moves in mbox files, one folder each'],
    imap: ['import imap --from imaps://HOST[:PORT] --user U [--source-user X] --password-stdin [--insecure | --ca FILE] [--keep-names]', 'copies every folder from a running IMAP server; what is there already is skipped'],
  },
  tls: {
    show: ['tls show [--config FILE]', 'the certificates the listeners serve, their fingerprints, and how to trust a self-signed one'],
  },
  dkim: {
    create: ['dkim create DOMAIN [--selector S] [--algorithm rsa-sha256|ed25519-sha256] [--bits N]', 'makes a DKIM key and prints the DNS TXT record to publish'],
    list: ['dkim list', 'the DKIM keys and which sign'],
    activate: ['dkim activate DOMAIN SELECTOR', 'signs with this key from now on (rotation)'],
    remove: ['dkim remove DOMAIN SELECTOR [--force]', 'removes a key'],
  },
  devices: {
    list: ['devices list [--user U]', 'ActiveSync devices (partnerships) and their last sync (Get-MobileDevice)'],
    remove: ['devices remove USER DEVICEID', 'ends a partnership and drops its sync state (Remove-MobileDevice)'],
  },
  store: {
    copy: ['store copy --from DATA_DIR|postgres://… --to postgres://…|DATA_DIR', 'copies a whole store between SQLite and PostgreSQL and verifies it'],
  },
  exchange: {
    'get-popsettings': ['Get-PopSettings', 'PopSettings.* (settings get)'],
    'set-popsettings': ['Set-PopSettings -Param V', 'sets PopSettings.Param'],
    'get-imapsettings': ['Get-ImapSettings', 'ImapSettings.* (settings get)'],
    'set-imapsettings': ['Set-ImapSettings -Param V', 'sets ImapSettings.Param'],
    'get-throttlingpolicy': ['Get-ThrottlingPolicy', 'ThrottlingPolicy.* (settings get)'],
    'set-throttlingpolicy': ['Set-ThrottlingPolicy -Param V [-Identity U]', 'sets ThrottlingPolicy.Param, for one user with -Identity'],
    'get-logonstatistics': ['Get-LogonStatistics [-Identity U]', 'live sessions (sessions list)'],
  },
};

const COMMON = 'Every command takes --data DIR (default ./data) and --json for machine-readable output.';

/** The whole usage (`mailwarden help`). */
export function fullUsage(): string {
  const lines: string[] = [];
  for (const group of Object.values(COMMAND_HELP)) for (const [usage] of Object.values(group)) lines.push(`  ${usage}`);
  return `mailwarden ${VERSION} — mailbox server with a visible session governor\n\n${lines.join('\n')}\n\n${COMMON}\n`;
}

/** True when the arguments ask for help (`--help`, `-h`, and PowerShell's `-?` for the Exchange verbs). */
export function wantsHelp(argv: string[]): boolean {
  return argv.some((a) => a === '--help' || a === '-h' || a === '-?');
}

/** The usage of a command (all its subcommands), or of one subcommand; null for an unknown command. */
export function commandUsage(cmd: string, sub?: string): string | null {
  const exchange = /^(get|set)-/i.test(cmd);
  const group = COMMAND_HELP[exchange ? 'exchange' : cmd];
  if (!group) return null;
  const key = exchange ? cmd.toLowerCase() : sub;
  const one = key !== undefined ? group[key] : undefined;
  const entries = one ? [one] : Object.values(group);
  const body = entries.map(([usage, what]) => `  mailwarden ${usage}\n      ${what}`).join('\n');
  return `Usage:\n${body}\n\n${COMMON}\n`;
}
