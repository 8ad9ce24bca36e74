// Two nodes behind a PROXY-protocol balancer (test/helpers/proxy-balancer.ts, connecting from
// 127.0.0.2, the one trusted address): Python imaplib through a v1 balancer and imapflow through
// a v2 one log on, and the session list, the per-IP view and the logs see the client address
// the header named; a direct client is served as itself; a trusted peer without a header is closed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { ImapFlow } from 'imapflow';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { startBalancer, type Balancer } from '../helpers/proxy-balancer.js';
import { eventually } from '../helpers/server.js';
import { run } from '../helpers/run.js';
import { imapLogon, webLogon } from './helpers.js';
import { launchBrowser } from '../web/helpers.js';

const USER = 'behind@example.com';
const WAIT = 120_000;
let cluster: TestCluster;
let v1: Balancer;
let v2: Balancer;
let httpV1: Balancer;
let userId: number;

before(async () => {
  cluster = await startCluster(2, { trustedProxies: ['127.0.0.2/32'] });
  userId = await cluster.addUser(USER);
  const imapPorts = cluster.nodes.map((n) => n.ports.imap!);
  v1 = await startBalancer(imapPorts, { version: 1, claimedClient: '198.51.100.7' });
  v2 = await startBalancer(imapPorts, { version: 2, claimedClient: '198.51.100.8' });
  httpV1 = await startBalancer(cluster.nodes.map((n) => n.ports.https!), { version: 1, claimedClient: '198.51.100.9' });
});
after(async () => {
  await v1?.close();
  await v2?.close();
  await httpV1?.close();
  await cluster?.close();
});

const addresses = async () => (await cluster.accounting.list({ userId })).map((s) => s.clientAddress).sort();

test('Python imaplib through a PROXY v1 balancer: the session shows the client the header named', { timeout: 5 * 60_000 }, async () => {
  const script = [
    'import imaplib, sys',
    `m = imaplib.IMAP4('127.0.0.1', ${v1.port})`,
    `m.login('${USER}', 'secret-pw')`,
    "print(m.select('INBOX')[0], flush=True)",
    'sys.stdin.readline()',
    'm.logout()',
    "print('bye', flush=True)",
  ].join('\n');
  const py = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  py.stdout.on('data', (c: Buffer) => (out += c.toString()));
  py.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await eventually(() => out.includes('OK') || py.exitCode !== null, WAIT, 'imaplib to log on');
  assert.match(out, /OK/, err);
  assert.deepEqual(await addresses(), ['198.51.100.7']);
  py.stdin.end('\n');
  await new Promise((res) => py.on('exit', res));
  assert.match(out, /bye/, err);
  await eventually(async () => (await addresses()).length === 0, WAIT, 'the session to end');
});

test('imapflow through a PROXY v2 balancer, and a direct client beside it', { timeout: 5 * 60_000 }, async () => {
  const client = new ImapFlow({ host: '127.0.0.1', port: v2.port, secure: false, logger: false, auth: { user: USER, pass: 'secret-pw' }, doSTARTTLS: false });
  await client.connect();
  const direct = await imapLogon(cluster.nodes[0]!.ports.imap!, USER);
  assert.equal(direct.ok, true, direct.answer);
  const lock = await client.getMailboxLock('INBOX');
  lock.release();
  assert.deepEqual(await addresses(), ['127.0.0.1', '198.51.100.8']);
  await client.logout();
  await direct.close();
  await eventually(async () => (await addresses()).length === 0, WAIT, 'the sessions to end');
});

test('a trusted peer that sends no PROXY header is closed, not served', { timeout: 60_000 }, async () => {
  const s = connect({ host: '127.0.0.1', port: cluster.nodes[0]!.ports.imap!, localAddress: '127.0.0.2' });
  let got = '';
  s.on('data', (c: Buffer) => (got += c.toString()));
  s.on('error', () => undefined);
  s.write(`a1 LOGIN ${USER} secret-pw\r\n`);
  await new Promise((res) => s.on('close', res));
  assert.equal(got, '', 'no greeting, no answer');
});

test('HTTPS through the balancer: the health endpoint answers, and a web mail sign-in shows the real client (TLS over the PROXY header)', { timeout: 2 * 60_000 }, async () => {
  const r = await run('curl', ['-sk', '-o', '-', '-w', '%{http_code}', `https://127.0.0.1:${httpV1.port}/health`]);
  assert.equal(r.stdout, 'ok\n200');
  const web = await webLogon(httpV1.port, USER);
  assert.equal(web.ok, true, web.answer);
  assert.deepEqual(await addresses(), ['198.51.100.9']);
  await web.close();
  await eventually(async () => (await addresses()).length === 0, WAIT, 'the web session to end');
});

test('Chromium through the balancer: web mail signed in on one node goes on working from a fresh connection to any node', { timeout: 5 * 60_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const first = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await first.newPage();
    const base = `https://127.0.0.1:${httpV1.port}/owa/`;
    await page.goto(base);
    await page.fill('input[name=address]', USER);
    await page.fill('input[name=password]', 'secret-pw');
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('button[data-folder="INBOX"]', { state: 'attached' });
    // a second browser context with the same cookies: new connections, round robin over both nodes
    const again = await browser.newContext({ ignoreHTTPSErrors: true, storageState: await first.storageState() });
    for (let i = 0; i < 4; i++) {
      const p = await again.newPage();
      await p.goto(base);
      await p.waitForSelector('button[data-folder="INBOX"]', { state: 'attached' });
      await p.close();
    }
    const held = await cluster.accounting.list({ userId });
    assert.deepEqual(held.map((x) => [x.kind, x.clientAddress]), [['owa', '198.51.100.9']], 'one web session, counted once, from the real client');
    await again.close();
    await first.close();
  } finally {
    await browser.close();
  }
});
