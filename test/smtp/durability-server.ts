// Child process for the durability test: opens the data folder given as argv[2], starts the
// MX listener on a free port and prints {"port": N} on one line. The test kills it with SIGKILL.
import { createServerContext } from '../../src/server/create-context.js';
import { startSmtpServer } from '../../src/protocols/smtp/server.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: durability-server.js DATA_DIR');
  process.exit(2);
}
const ctx = await createServerContext(dir, { computer: 'durable.test.example' });
const listener = await startSmtpServer(ctx, { host: '127.0.0.1', port: 0, implicitTls: false, mode: 'mx' });
process.stdout.write(JSON.stringify({ port: listener.port }) + '\n');
