import { CliError, parseArgs, type ParsedArgs } from '../args.js';
import { settingsCommand } from './settings.js';
import { sessionsCommand } from './sessions.js';

/**
 * Exchange Management Shell spellings, for administrators who know them:
 *   Get-PopSettings | Get-ImapSettings | Get-ThrottlingPolicy
 *   Set-PopSettings -MaxConnectionsPerUser 20   (any parameter of the group)
 *   Set-ThrottlingPolicy -POPMaxConcurrency 30 [-Identity alice]
 *   Get-LogonStatistics -Identity alice
 * Each maps onto the settings/sessions commands; nothing here has logic of its own.
 */
const GROUPS: Record<string, string> = { popsettings: 'PopSettings', imapsettings: 'ImapSettings', throttlingpolicy: 'ThrottlingPolicy' };

function psParams(argv: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!/^-[A-Za-z]/.test(a)) throw new CliError(`expected -Parameter, got "${a}"`);
    const value = argv[i + 1];
    if (value === undefined) throw new CliError(`${a} needs a value`);
    out.push([a.slice(1), value]);
    i++;
  }
  return out;
}

export function isExchangeVerb(cmd: string): boolean {
  return /^(get|set|remove)-/i.test(cmd);
}

export async function exchangeCommand(cmd: string, argv: string[], base: ParsedArgs): Promise<void> {
  const [verb, noun] = cmd.toLowerCase().split('-', 2);
  const data = base.flags.get('data');
  const withData = (a: string[]) => parseArgs([...a, ...(data ? ['--data', data] : []), ...(base.switches.has('json') ? ['--json'] : [])]);
  const params = psParams(argv);
  if (noun === 'logonstatistics' && verb === 'get') {
    const id = params.find(([k]) => k.toLowerCase() === 'identity')?.[1];
    return sessionsCommand('list', withData(id ? ['--user', id] : []));
  }
  if (noun === 'mobiledevice' && (verb === 'get' || verb === 'remove')) {
    // Get-MobileDevice [-Mailbox U]; Remove-MobileDevice -Identity U -DeviceId D (or -Identity "U\\D")
    const { devicesCommand } = await import('./devices.js');
    const param = (name: string) => params.find(([k]) => k.toLowerCase() === name)?.[1];
    if (verb === 'get') {
      const mailbox = param('mailbox') ?? param('identity');
      return devicesCommand('list', withData(mailbox ? ['--user', mailbox] : []));
    }
    const identity = param('identity') ?? '';
    const [user, deviceId] = param('deviceid') ? [identity, param('deviceid')!] : identity.split('\\');
    if (!user || !deviceId) throw new CliError('Remove-MobileDevice needs -Identity USER -DeviceId ID (or -Identity "USER\\ID")');
    return devicesCommand('remove', withData([user, deviceId]));
  }
  const group = GROUPS[noun];
  if (!group) throw new CliError(`unknown command "${cmd}"`);
  const identity = params.find(([k]) => k.toLowerCase() === 'identity')?.[1];
  if (verb === 'get') {
    const { SETTINGS } = await import('../../settings/catalog.js');
    for (const def of SETTINGS.filter((d) => d.name.startsWith(group + '.'))) {
      await settingsCommand('get', withData([def.name, ...(identity && def.scope === 'overridable' ? ['--user', identity] : [])]));
    }
    return;
  }
  const sets = params.filter(([k]) => k.toLowerCase() !== 'identity');
  if (sets.length === 0) throw new CliError(`${cmd} needs at least one -Parameter Value`);
  for (const [k, v] of sets) await settingsCommand('set', withData([`${group}.${k}`, v, ...(identity ? ['--user', identity] : [])]));
}
