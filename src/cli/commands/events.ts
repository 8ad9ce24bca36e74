import { allowOnly, CliError, parseSince, type ParsedArgs } from '../args.js';
import { withStore } from '../common.js';
import { printJson, printTable } from '../output.js';
import { eventsToXml } from '../../events/xml.js';
import { LEVEL_NAMES } from '../../events/kinds.js';
import type { EventFilter, EventLevel } from '../../store/types.js';

const LEVELS: Record<string, EventLevel> = { error: 2, warning: 3, information: 4, info: 4, '2': 2, '3': 3, '4': 4 };

function filterOf(args: ParsedArgs): EventFilter {
  const f: EventFilter = {};
  const id = args.flags.get('id');
  if (id !== undefined) {
    if (!/^[0-9]{1,9}$/.test(id)) throw new CliError(`--id needs an event ID number, got "${id}"`);
    f.eventId = Number(id);
  }
  const record = args.flags.get('record');
  if (record !== undefined) {
    if (!/^[0-9]{1,15}$/.test(record)) throw new CliError(`--record needs a record ID number, got "${record}"`);
    f.recordId = Number(record);
  }
  const since = args.flags.get('since');
  if (since !== undefined) f.since = parseSince(since);
  const level = args.flags.get('level');
  if (level !== undefined) {
    f.level = LEVELS[level.toLowerCase()];
    if (!f.level) throw new CliError(`--level needs error, warning or information, got "${level}"`);
  }
  if (args.flags.get('provider')) f.provider = args.flags.get('provider');
  if (args.flags.get('user')) f.user = args.flags.get('user');
  return f;
}

/** mailwarden events list|export */
export async function eventsCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  if (sub === 'list') {
    allowOnly(args, ['id', 'since', 'level', 'provider', 'user', 'record']);
    const filter = filterOf(args);
    const events = await withStore(args, (s) => s.listEvents(filter));
    if (args.switches.has('json')) return printJson(events);
    if (events.length === 0) return void process.stdout.write('no events match\n');
    printTable(
      ['RECORD', 'TIME', 'LEVEL', 'SOURCE', 'ID', 'COUNT', 'MESSAGE'],
      events.map((e) => [e.recordId, e.time.toISOString(), LEVEL_NAMES[e.level], e.provider, e.eventId, e.count, e.message]),
    );
    return;
  }
  if (sub === 'export') {
    allowOnly(args, ['id', 'since', 'level', 'provider', 'user', 'record', 'format']);
    const format = args.flags.get('format') ?? 'xml';
    if (format !== 'xml') throw new CliError(`--format ${format} is not supported; use --format xml`);
    const filter = filterOf(args);
    const events = await withStore(args, (s) => s.listEvents(filter));
    if (events.length === 0) throw new CliError('no events match');
    process.stdout.write(eventsToXml(events));
    return;
  }
  throw new CliError(`unknown "events ${sub ?? ''}": use list or export`);
}
