import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { positional, withStore } from '../common.js';
import { printJson, printTable } from '../output.js';
import { deleteQueueEntry, listQueue, retryQueueEntry } from '../../transport/queue.js';

function queueId(args: ParsedArgs): number {
  const id = positional(args, 0, 'queue entry ID (see "queue list")');
  if (!/^[0-9]{1,12}$/.test(id)) throw new CliError(`"${id}" is not a queue entry ID`);
  return Number(id);
}

/** mailwarden queue list|retry|delete — the outbound queue lives in the store; a running server picks up changes at its next poll. */
export async function queueCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  allowOnly(args, []);
  if (sub === 'list') {
    const entries = await withStore(args, (store) => listQueue({ store }));
    if (args.switches.has('json')) return printJson(entries);
    if (entries.length === 0) return void process.stdout.write('the outbound queue is empty\n');
    printTable(
      ['ID', 'FROM', 'TO', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'],
      entries.map((e) => [e.id, e.sender || '<>', e.recipients.join(','), e.attempts, e.nextAttempt.toISOString(), e.lastError ?? '']),
    );
    return;
  }
  if (sub === 'retry' || sub === 'delete') {
    const id = queueId(args);
    const done = await withStore(args, (store) => (sub === 'retry' ? retryQueueEntry({ store }, id) : deleteQueueEntry({ store }, id)));
    if (!done) throw new CliError(`no queue entry ${id}`);
    process.stdout.write(sub === 'retry' ? `queue entry ${id} is due now\n` : `queue entry ${id} deleted (no DSN sent)\n`);
    return;
  }
  throw new CliError(`unknown "queue ${sub ?? ''}": use list, retry or delete`);
}
