import { readFileSync, statSync } from 'node:fs';
import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { readPasswordFromStdin, requireUser, withStore } from '../common.js';
import { printJson } from '../output.js';
import { importFolders, type FolderReport } from '../../import/importer.js';
import { readMaildir } from '../../import/maildir.js';
import { readMbox } from '../../import/mbox.js';
import type { SourceFolder } from '../../import/source.js';

/** Progress on standard error (standard output carries the result, also as --json). */
function progress(quiet: boolean) {
  let last = 0;
  return (r: FolderReport & { done: boolean; total?: number }) => {
    if (quiet) return;
    const now = performance.now();
    if (!r.done && now - last < 1000) return;
    last = now;
    const of = r.total !== undefined ? ` of ${r.total}` : '';
    process.stderr.write(`${r.source} -> ${r.target}: ${r.imported} imported, ${r.skipped} already there${of}${r.done ? ' (done)' : ''}\n`);
  };
}

/**
 * mailwarden import maildir PATH --user U
 * mailwarden import mbox FILE [FILE…] --user U [--folder NAME]
 * mailwarden import imap --from imaps://HOST[:PORT] --user U [--source-user X] --password-stdin [--insecure | --ca FILE]
 */
export async function importCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  allowOnly(args, ['user', 'folder', 'from', 'source-user', 'password-stdin', 'insecure', 'ca', 'keep-names', 'quiet']);
  const identity = args.flags.get('user');
  if (!identity) throw new CliError('name the user to import into: --user ADDRESS');
  const started = performance.now();
  let close = async () => undefined as void;
  let sources: SourceFolder[];
  if (sub === 'maildir') {
    const path = args.positionals[0];
    if (!path) throw new CliError('name the Maildir: mailwarden import maildir PATH --user U');
    sources = await readMaildir(path);
  } else if (sub === 'mbox') {
    if (args.positionals.length === 0) throw new CliError('name the mbox file(s): mailwarden import mbox FILE… --user U');
    for (const f of args.positionals) if (!statSync(f, { throwIfNoEntry: false })?.isFile()) throw new CliError(`${f} is not a file`);
    if (args.flags.has('folder') && args.positionals.length > 1) throw new CliError('--folder names the target of one mbox file only');
    sources = args.positionals.map((f) => readMbox(f, args.flags.get('folder')));
  } else if (sub === 'imap') {
    const from = args.flags.get('from');
    if (!from) throw new CliError('name the source server: --from imaps://HOST[:PORT]');
    if (!args.switches.has('password-stdin')) throw new CliError('the source password is read from standard input: --password-stdin');
    const { openImapSource } = await import('../../import/imap.js');
    const source = await openImapSource({
      url: from, user: args.flags.get('source-user') ?? identity, password: await readPasswordFromStdin(),
      insecure: args.switches.has('insecure'),
      ca: args.flags.has('ca') ? readFileSync(args.flags.get('ca')!, 'utf8') : undefined,
    });
    sources = source.folders;
    close = source.close;
  } else {
    throw new CliError(`unknown "import ${sub ?? ''}": use maildir, mbox or imap`);
  }
  try {
    const reports = await withStore(args, async (store) => {
      const user = await requireUser(store, identity);
      return importFolders(store, user.id, sources, { keepNames: args.switches.has('keep-names'), progress: progress(args.switches.has('quiet') || args.switches.has('json')) });
    });
    const seconds = (performance.now() - started) / 1000;
    if (args.switches.has('json')) return printJson({ folders: reports, seconds });
    const imported = reports.reduce((n, r) => n + r.imported, 0);
    const skipped = reports.reduce((n, r) => n + r.skipped, 0);
    process.stdout.write(`imported ${imported} messages into ${reports.length} folders of ${identity} in ${seconds.toFixed(1)} s` + (skipped ? ` (${skipped} were there already)` : '') + '\n');
  } finally {
    await close();
  }
}
