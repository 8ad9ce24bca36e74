// Child process for the crash-safety test: appends messages of random sizes forever,
// printing each acknowledged UID, until it is killed.
import { randomBytes } from 'node:crypto';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const [file, address] = process.argv.slice(2);
const store = await SqliteStore.open(file);
const user = (await store.findUser(address))!;
const inbox = await store.getSpecialFolder(user.id, '\\Inbox');
for (let i = 0; ; i++) {
  const body = randomBytes(1000 + Math.floor(Math.random() * 200_000)).toString('base64').replace(/.{76}/g, '$&\r\n');
  const raw = Buffer.from(`From: a@example.org\r\nSubject: crash ${i}\r\nMessage-ID: <${i}.${process.pid}@x>\r\n\r\n${body}\r\n`);
  const r = await store.append(user.id, inbox.id, raw, { flags: i % 2 ? ['\\Seen'] : [] });
  process.stdout.write(`${r.uid}\n`);
}
