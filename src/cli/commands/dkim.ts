import { existsSync } from 'node:fs';
import { allowOnly, CliError, intFlag, type ParsedArgs } from '../args.js';
import { dataDirOf, positional } from '../common.js';
import { printJson, printTable } from '../output.js';
import { activateDkimKey, createDkimKey, DKIM_ALGORITHMS, DkimKeyError, listDkimKeys, removeDkimKey, zoneLine, type DkimAlgorithm, type DkimKeyInfo } from '../../transport/dkim-keys.js';

function algorithmOf(args: ParsedArgs): DkimAlgorithm {
  const a = (args.flags.get('algorithm') ?? 'rsa-sha256').toLowerCase();
  const full = a === 'rsa' ? 'rsa-sha256' : a === 'ed25519' ? 'ed25519-sha256' : a;
  if (!(DKIM_ALGORITHMS as readonly string[]).includes(full)) throw new CliError(`--algorithm is rsa-sha256 (rsa) or ed25519-sha256 (ed25519), not "${a}"`);
  return full as DkimAlgorithm;
}

function printKey(k: DkimKeyInfo, args: ParsedArgs, what: string): void {
  if (args.switches.has('json')) return printJson({ ...k, name: `${k.selector}._domainkey.${k.domain}`, zone: zoneLine(k) });
  const next =
    k.state === 'active'
      ? 'Mail From: this domain is signed with it from now on (publish the record first if verifiers should pass).'
      : k.state === 'pending'
        ? `Publish the record, wait until it is visible (dig TXT ${k.selector}._domainkey.${k.domain}), then: mailwarden dkim activate ${k.domain} ${k.selector}`
        : '';
  process.stdout.write(
    [
      `${what} DKIM key ${k.selector} for ${k.domain} (${k.algorithm}, ${k.state}). Publish this DNS TXT record:`,
      '',
      `  name:  ${k.selector}._domainkey.${k.domain}`,
      `  value: ${k.record}`,
      '',
      'As a zone-file line:',
      '',
      `  ${zoneLine(k)}`,
      '',
      next,
      '',
    ].join('\n'),
  );
}

/** mailwarden dkim create|list|activate|remove — keys in DATA/dkim; a running server sees changes at its next message. */
export async function dkimCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  const dataDir = dataDirOf(args);
  if (!existsSync(dataDir)) throw new CliError(`no data folder ${dataDir} (run "mailwarden serve" once, or pass --data)`);
  try {
    if (sub === 'create') {
      allowOnly(args, ['selector', 'algorithm', 'bits']);
      const domain = positional(args, 0, 'DOMAIN');
      const k = createDkimKey(dataDir, { domain, selector: args.flags.get('selector'), algorithm: algorithmOf(args), bits: intFlag(args, 'bits', 2048) });
      return printKey(k, args, 'Created');
    }
    if (sub === 'list') {
      allowOnly(args, []);
      const keys = listDkimKeys(dataDir);
      if (args.switches.has('json')) return printJson(keys.map((k) => ({ ...k, name: `${k.selector}._domainkey.${k.domain}` })));
      if (keys.length === 0) return void process.stdout.write('no DKIM keys (mailwarden dkim create DOMAIN)\n');
      printTable(['DOMAIN', 'SELECTOR', 'ALGORITHM', 'STATE', 'CREATED', 'DNS NAME'], keys.map((k) => [k.domain, k.selector, k.algorithm, k.state, k.created, `${k.selector}._domainkey.${k.domain}`]));
      return;
    }
    if (sub === 'activate') {
      allowOnly(args, []);
      const k = activateDkimKey(dataDir, positional(args, 0, 'DOMAIN'), positional(args, 1, 'SELECTOR'));
      if (args.switches.has('json')) return printJson(k);
      process.stdout.write(`${k.selector} now signs mail from ${k.domain} (${k.algorithm}); the key before it is retired: keep its DNS record a few days, then "mailwarden dkim remove ${k.domain} OLD-SELECTOR"\n`);
      return;
    }
    if (sub === 'remove') {
      allowOnly(args, ['force']);
      const k = removeDkimKey(dataDir, positional(args, 0, 'DOMAIN'), positional(args, 1, 'SELECTOR'), args.switches.has('force'));
      if (args.switches.has('json')) return printJson(k);
      process.stdout.write(`DKIM key ${k.selector} for ${k.domain} removed; its DNS record (${k.selector}._domainkey.${k.domain}) can go\n`);
      return;
    }
  } catch (err) {
    if (err instanceof DkimKeyError) throw new CliError(err.message);
    throw err;
  }
  throw new CliError(`unknown "dkim ${sub ?? ''}": use create, list, activate or remove`);
}
