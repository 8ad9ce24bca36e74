import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { get } from 'node:https';
import { join } from 'node:path';
import { startServer } from '../../src/server/serve.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { tempDir } from '../helpers/tmp.js';
import { captureLog } from '../helpers/log-capture.js';

/**
 * Against Debian's pebble (the ACME test CA of Let's Encrypt) and pebble-challtestsrv as its DNS,
 * all on loopback: the CA resolves the test domain to 127.0.0.1 and fetches the HTTP-01 answer
 * from the server's responder, as Let's Encrypt would on port 80.
 */
const missing = ['/usr/bin/pebble', '/usr/bin/pebble-challtestsrv'].find((f) => !existsSync(f));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts a program and resolves once its output shows `ready` (its own "listening" line). */
function startUntil(cmd: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      if (ready.test(out)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${out}`)));
  });
}

function fetchText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).once('error', reject);
  });
}

/** The certificate the IMAPS listener presents for a name, checked against `ca` (throws when it does not verify). */
function verifiedFingerprint(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca }, () => {
      const fp = s.getPeerX509Certificate()!.fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once('error', reject);
  });
}

test('certificates from an ACME CA: obtained by HTTP-01 at start, served by name, renewed when due, kept across restarts', { skip: missing ? `${missing} is not installed (apt-get install pebble)` : false }, async () => {
  const tmp = tempDir();
  const children: ChildProcess[] = [];
  try {
    const { generate } = await import('selfsigned');
    const pebbleTls = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    });
    const pebbleCert = join(tmp.dir, 'pebble-cert.pem');
    writeFileSync(pebbleCert, pebbleTls.cert);
    writeFileSync(join(tmp.dir, 'pebble-key.pem'), pebbleTls.private);
    const [dnsPort, dnsMgmt, acmePort, acmeMgmt, challengePort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    children.push(await startUntil('pebble-challtestsrv', [
      '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
      '-management', `127.0.0.1:${dnsMgmt}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
    ], /Starting management server/));
    const pebbleConfig = join(tmp.dir, 'pebble.json');
    writeFileSync(pebbleConfig, JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${acmeMgmt}`,
        certificate: pebbleCert, privateKey: join(tmp.dir, 'pebble-key.pem'),
        httpPort: challengePort, tlsPort: await freePort(), ocspResponderURL: '', externalAccountBindingRequired: false,
      },
    }));
    children.push(await startUntil('pebble', ['-config', pebbleConfig, '-dnsserver', `127.0.0.1:${dnsPort}`], /ACME directory available/, { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' }));

    const configFile = join(tmp.dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({
      acme: {
        directoryUrl: `https://127.0.0.1:${acmePort}/dir`, domains: ['mail.example.test', 'imap.example.test'], email: 'postmaster@example.test',
        httpPort: challengePort, directoryCaFile: pebbleCert,
      },
      tls: { pollSeconds: 0 },
    }));
    const dataDir = join(tmp.dir, 'data');
    const ports = { imap: 0, imaps: 0, pop3: 0, pop3s: 0, smtp: 0, submission: 0, submissions: 0, http: 0 };
    const clock = new ManualClock(Date.now());
    const log = captureLog('info');
    const server = await startServer({ dataDir, configFile, host: '127.0.0.1', ports, clock, log: log.log });
    let first: string;
    try {
      await server.acme!.check(); // the order started at start-up
      const issued = server.acme!.current();
      assert.ok(issued, `a certificate was obtained: ${JSON.stringify(log.records().filter((r) => Number(r.level) >= 50))}`);
      assert.deepEqual([...issued.names].sort(), ['imap.example.test', 'mail.example.test']);
      // it verifies against pebble's root (regenerated each run: fetched from its management port)
      const root = await fetchText(`https://127.0.0.1:${acmeMgmt}/roots/0`, pebbleTls.cert);
      const imaps = server.listeners.find((l) => l.name === 'imaps')!.port;
      first = await verifiedFingerprint(imaps, 'imap.example.test', root);
      assert.equal(first, issued.fingerprint256);
      // localhost still gets the data folder's own
      assert.notEqual(server.ctx.tls.certificateFor('localhost').fingerprint256, first);

      // renewal: not yet due now, due once two thirds of its lifetime have passed
      await server.acme!.check();
      assert.equal(server.acme!.current()!.fingerprint256, first, 'no renewal while not due');
      const open = tls.connect({ host: '127.0.0.1', port: imaps, servername: 'mail.example.test', ca: root });
      await new Promise<void>((r, j) => { open.once('secureConnect', () => r()); open.once('error', j); });
      clock.set(issued.validTo.getTime() - (issued.validTo.getTime() - issued.validFrom.getTime()) / 4);
      await server.acme!.check();
      const renewed = server.acme!.current()!;
      assert.notEqual(renewed.fingerprint256, first, 'renewed');
      assert.equal(await verifiedFingerprint(imaps, 'mail.example.test', root), renewed.fingerprint256, 'served at once, no restart');
      // the connection opened before the renewal is still up and talking
      const greeting = await new Promise<string>((r) => open.once('data', (c: Buffer) => r(c.toString())));
      assert.match(greeting, /^\* OK/);
      open.destroy();
      first = renewed.fingerprint256;
    } finally {
      await server.stop();
    }

    // a restart (on the real time again) serves the kept certificate without ordering again
    clock.set(Date.now());
    const again = await startServer({ dataDir, configFile, host: '127.0.0.1', ports, clock, log: captureLog('warn').log });
    try {
      assert.equal(again.acme!.current()?.fingerprint256, first);
      await again.acme!.check();
      assert.equal(again.acme!.current()?.fingerprint256, first, 'not due: not ordered again');
    } finally {
      await again.stop();
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    tmp.cleanup();
  }
});
