import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServerContext } from '../../src/server/create-context.js';
import { GIVE_UP_MS } from '../helpers/server.js';
import { RawSmtp } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));

/** One client: sends messages one after another until the server goes away; records every 250. */
async function client(port: number, n: number, acked: Set<string>, stop: () => boolean): Promise<void> {
  let c: RawSmtp;
  try {
    ({ client: c } = await RawSmtp.connect(port));
  } catch {
    return;
  }
  try {
    if (!(await c.cmd(`EHLO client${n}.example`)).startsWith('250')) return;
    for (let i = 0; !stop(); i++) {
      const id = `c${n}-m${i}@durability.example`;
      if (!(await c.cmd('MAIL FROM:<load@remote.example>')).startsWith('250')) return;
      if (!(await c.cmd('RCPT TO:<alice@test.example>')).startsWith('250')) return;
      if (!(await c.cmd('DATA')).startsWith('354')) return;
      c.write(`Message-ID: <${id}>\r\nSubject: load ${id}\r\n\r\n${`line of client ${n} message ${i}\r\n`.repeat(200)}.\r\n`);
      const r = await c.reply();
      if (!r.startsWith('250')) return;
      acked.add(`<${id}>`);
    }
  } finally {
    c.close();
  }
}

it('every message acknowledged with 250 survives kill -9 of the server', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-smtp-durable-'));
  try {
    const setup = await createServerContext(dir);
    await setup.store.createUser({ address: 'alice@test.example', password: 'pw' });
    await setup.store.close();

    const child = spawn(process.execPath, [join(here, 'durability-server.js'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const line = out.split('\n')[0];
        if (out.includes('\n')) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', () => reject(new Error(`server exited early: ${out}`)));
    });

    const acked = new Set<string>();
    let killed = false;
    const clients = Array.from({ length: 10 }, (_, n) => client(port, n, acked, () => killed));
    // Kill once a good number of messages went through, i.e. while transfers are in flight (the
    // clients go on until the kill; the bound only ends a test whose server stopped answering).
    const start = Date.now();
    while (acked.size < 60 && Date.now() - start < GIVE_UP_MS) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    killed = true;
    assert.equal(await exited, 'SIGKILL');
    await Promise.all(clients);
    assert.ok(acked.size >= 60, `only ${acked.size} messages acknowledged`);

    const ctx = await createServerContext(dir);
    try {
      const alice = (await ctx.store.findUser('alice@test.example'))!;
      const inbox = await ctx.store.getSpecialFolder(alice.id, '\\Inbox');
      const page = await ctx.store.listMessagePage(alice.id, inbox.id, 0, 100_000);
      const stored = new Set(page.items.map((m) => m.messageId));
      const missing = [...acked].filter((id) => !stored.has(id));
      assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged messages lost`);
      // at most the messages whose 250 was lost with the connection are extra
      assert.ok(page.total >= acked.size && page.total <= acked.size + 10, `${page.total} stored for ${acked.size} acknowledged`);
    } finally {
      await ctx.store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
