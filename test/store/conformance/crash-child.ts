/**
 * Child process of crash.test.ts: opens a backend's store and writes until it is killed, with
 * WORKERS writes in flight: appends, and on some of the acknowledged messages a flag change, a
 * move or a removal. Prints one line per acknowledged write (after its promise resolved, i.e.
 * once the store said it is durable):
 *   A <objectId> <next>   appended; <next> is what follows (F, M, X or -), perhaps cut by the kill
 *   F <objectId>   \Flagged added    M <objectId>   moved to Archive    X <objectId>   removed (\Deleted + expunge)
 * Usage: node crash-child.js BACKEND LOCATION ADDRESS
 */
import { backendByName } from './backends.js';

const [backendName, location, address] = process.argv.slice(2) as [string, string, string];
const WORKERS = 16;
const { store } = await backendByName(backendName).open(location);
const user = (await store.findUser(address))!;
const inbox = await store.getSpecialFolder(user.id, '\\Inbox');
const archive = (await store.getFolder(user.id, 'Archive'))!;
const ack = (line: string) => process.stdout.write(line + '\n'); // synchronous for pipes on Linux
let n = 0;

async function worker(): Promise<never> {
  for (;;) {
    const i = n++;
    const body = 'x'.repeat(200 + ((i * 7919) % 20_000)).replace(/.{76}/g, '$&\r\n');
    const raw = Buffer.from(`From: crash@example.org\r\nSubject: crash ${i}\r\nMessage-ID: <${i}.${process.pid}@crash>\r\n\r\n${body}\r\n`);
    const r = await store.append(user.id, inbox.id, raw, { flags: i % 2 ? ['\\Seen'] : [] });
    ack(`A ${r.objectId} ${'-FMX'[i % 4]}`);
    switch (i % 4) {
      case 1:
        await store.storeFlags(user.id, inbox.id, [r.uid], 'add', ['\\Flagged']);
        ack(`F ${r.objectId}`);
        break;
      case 2:
        await store.moveMessages(user.id, inbox.id, [r.uid], archive.id);
        ack(`M ${r.objectId}`);
        break;
      case 3:
        await store.storeFlags(user.id, inbox.id, [r.uid], 'add', ['\\Deleted']);
        await store.expunge(user.id, inbox.id, [r.uid]);
        ack(`X ${r.objectId}`);
        break;
    }
  }
}

await Promise.all(Array.from({ length: WORKERS }, worker));
