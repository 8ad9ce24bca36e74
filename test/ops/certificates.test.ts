import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { tempDir } from '../helpers/tmp.js';
import { captureLog } from '../helpers/log-capture.js';
import { run } from '../helpers/run.js';

const BIN = resolve('bin/mailwarden');

/** A key and a self-signed certificate for these names, as an outside CA or certbot would leave them. */
async function makeCertificate(names: string[]): Promise<{ key: string; cert: string; fingerprint: string }> {
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: names[0] }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) }],
  });
  return { key: pems.private, cert: pems.cert, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

/** Reads until `pattern` matched what arrived (a line protocol's greeting or answer). */
function readUntil(socket: net.Socket, pattern: RegExp): Promise<string> {
  return new Promise((resolveRead, reject) => {
    let text = '';
    const onData = (c: Buffer) => {
      text += c.toString('latin1');
      if (pattern.test(text)) {
        socket.off('data', onData);
        resolveRead(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** The fingerprint of the certificate a listener presents, by implicit TLS or by its STARTTLS dialogue. */
async function presented(port: number, how: 'implicit' | 'imap' | 'pop3' | 'smtp', servername?: string): Promise<string> {
  const handshake = (socket?: net.Socket) => new Promise<string>((ok, fail) => {
    const s = tls.connect({ ...(socket ? { socket } : { host: '127.0.0.1', port }), servername, rejectUnauthorized: false }, () => {
      const fp = s.getPeerX509Certificate()!.fingerprint256;
      s.destroy();
      ok(fp);
    });
    s.once('error', fail);
  });
  if (how === 'implicit') return handshake();
  const plain = net.connect(port, '127.0.0.1');
  if (how === 'imap') {
    await readUntil(plain, /^\* OK.*\r\n/m);
    plain.write('a STARTTLS\r\n');
    await readUntil(plain, /^a OK.*\r\n/m);
  } else if (how === 'pop3') {
    await readUntil(plain, /^\+OK.*\r\n/);
    plain.write('STLS\r\n');
    await readUntil(plain, /\+OK.*\r\n\+OK.*\r\n|^\+OK.*\r\n$/s);
  } else {
    await readUntil(plain, /^220 .*\r\n/m);
    plain.write('EHLO client.test\r\n');
    await readUntil(plain, /^250 .*\r\n/m);
    plain.write('STARTTLS\r\n');
    await readUntil(plain, /^220 .*\r\n/m);
  }
  return handshake(plain);
}

const ports = { imap: 0, imaps: 0, pop3: 0, pop3s: 0, smtp: 0, submission: 0, submissions: 0, http: 0 };
const portOf = (s: RunningServer, name: string) => s.listeners.find((l) => l.name === name)!.port;

test('every listener serves the certificate named by SNI, the default to clients naming none, and a replaced certificate without a restart', async () => {
  const tmp = tempDir();
  const dataDir = join(tmp.dir, 'data');
  const mail = await makeCertificate(['mail.example.test']);
  const other = await makeCertificate(['*.other.test']);
  const files = {
    mail: { cert: join(tmp.dir, 'mail.pem'), key: join(tmp.dir, 'mail.key') },
    other: { cert: join(tmp.dir, 'other.pem'), key: join(tmp.dir, 'other.key') },
  };
  writeFileSync(files.mail.cert, mail.cert);
  writeFileSync(files.mail.key, mail.key);
  writeFileSync(files.other.cert, other.cert);
  writeFileSync(files.other.key, other.key);
  const configFile = join(tmp.dir, 'config.json');
  // pollSeconds 0: no timer in this test; the reloads below are asked for (as SIGHUP does)
  writeFileSync(configFile, JSON.stringify({ tls: { certificates: [files.mail, files.other], pollSeconds: 0 } }));
  const logged = captureLog('info');
  const server = await startServer({ dataDir, configFile, host: '127.0.0.1', ports, log: logged.log });
  try {
    const own = server.ctx.tls.list().find((c) => c.files.certFile.startsWith(dataDir))!;
    const listeners: Array<[string, 'implicit' | 'imap' | 'pop3' | 'smtp']> = [
      ['imaps', 'implicit'], ['pop3s', 'implicit'], ['smtps', 'implicit'], ['https', 'implicit'],
      ['imap', 'imap'], ['pop3', 'pop3'], ['submission', 'smtp'], ['smtp', 'smtp'],
    ];
    for (const [name, how] of listeners) {
      const port = portOf(server, name);
      assert.equal(await presented(port, how, 'mail.example.test'), mail.fingerprint, `${name}: SNI mail.example.test`);
      assert.equal(await presented(port, how, 'imap.other.test'), other.fingerprint, `${name}: SNI by wildcard`);
      assert.equal(await presented(port, how, 'localhost'), own.fingerprint256, `${name}: SNI localhost gets the data folder's own`);
      assert.equal(await presented(port, how), mail.fingerprint, `${name}: no SNI gets the first configured`);
    }

    // a session open before the renewal
    const pw = 'user-pw-9';
    await server.ctx.store.createUser({ address: 'dana@example.com', password: pw });
    const client = new ImapFlow({ host: '127.0.0.1', port: portOf(server, 'imaps'), secure: true, tls: { rejectUnauthorized: false, servername: 'mail.example.test' }, auth: { user: 'dana@example.com', pass: pw }, logger: false });
    await client.connect();

    // certbot-style renewal: new key and certificate written beside, then renamed over the old ones
    const renewed = await makeCertificate(['mail.example.test']);
    writeFileSync(files.mail.cert + '.new', renewed.cert);
    writeFileSync(files.mail.key + '.new', renewed.key);
    renameSync(files.mail.key + '.new', files.mail.key);
    renameSync(files.mail.cert + '.new', files.mail.cert);
    const changed = new Promise<void>((r) => { const off = server.ctx.tls.onChange(() => { off(); r(); }); });
    assert.equal(server.ctx.tls.reload().changed, true);
    await changed;
    for (const [name, how] of listeners) {
      const port = portOf(server, name);
      assert.equal(await presented(port, how, 'mail.example.test'), renewed.fingerprint, `${name}: renewed by SNI`);
      assert.equal(await presented(port, how), renewed.fingerprint, `${name}: renewed as the default`);
    }
    // the open session was not disturbed
    const status = await client.status('INBOX', { messages: true });
    assert.ok(status && status.messages !== undefined);
    await client.logout();

    // a broken file (half-written, wrong key) keeps the good certificate in service and says why
    writeFileSync(files.mail.key, other.key);
    const r = server.ctx.tls.reload();
    assert.equal(r.changed, false);
    assert.match(r.errors.join(' '), /mail\.pem/);
    assert.equal(await presented(portOf(server, 'imaps'), 'implicit', 'mail.example.test'), renewed.fingerprint);
    assert.ok(logged.records().some((rec) => /did not load/.test(String(rec.msg))), 'the problem is logged');
  } finally {
    await server.stop();
    tmp.cleanup();
  }
});

test('the certificate files are watched: replacing them is noticed without a signal', async () => {
  const tmp = tempDir();
  const dataDir = join(tmp.dir, 'data');
  const configFile = join(tmp.dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ tls: { pollSeconds: 0.05 } }));
  const server = await startServer({ dataDir, configFile, host: '127.0.0.1', ports, log: captureLog('warn').log });
  try {
    const replacement = await makeCertificate(['localhost', 'mail.example.test']);
    const changed = new Promise<void>((r) => { const off = server.ctx.tls.onChange(() => { off(); r(); }); });
    // the data folder's own pair replaced by a real one, as README "Certificates" describes
    writeFileSync(join(dataDir, 'tls', 'key.pem.new'), replacement.key);
    writeFileSync(join(dataDir, 'tls', 'cert.pem.new'), replacement.cert);
    renameSync(join(dataDir, 'tls', 'key.pem.new'), join(dataDir, 'tls', 'key.pem'));
    renameSync(join(dataDir, 'tls', 'cert.pem.new'), join(dataDir, 'tls', 'cert.pem'));
    await changed;
    // both files may be seen in two polls: wait until what is served is the complete new pair
    while (server.ctx.tls.default.fingerprint256 !== replacement.fingerprint) await new Promise<void>((r) => { const off = server.ctx.tls.onChange(() => { off(); r(); }); });
    assert.equal(await presented(portOf(server, 'imaps'), 'implicit'), replacement.fingerprint);
  } finally {
    await server.stop();
    tmp.cleanup();
  }
});

test('mailwarden tls show prints every certificate, its fingerprints and how to trust the self-signed one', async () => {
  const tmp = tempDir();
  const dataDir = join(tmp.dir, 'data');
  const server = await startServer({ dataDir, host: '127.0.0.1', ports, log: captureLog('warn').log });
  const fingerprint = server.ctx.tls.default.fingerprint256;
  await server.stop();
  try {
    const r = await run(process.execPath, [BIN, 'tls', 'show', '--data', dataDir]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(fingerprint), 'the SHA-256 fingerprint');
    assert.match(r.stdout, /names\s+localhost, .*127\.0\.0\.1/);
    for (const client of ['Thunderbird', 'mutt', 'curl', 'fetchmail']) assert.ok(r.stdout.includes(client), client);
    const json = JSON.parse((await run(process.execPath, [BIN, 'tls', 'show', '--data', dataDir, '--json'])).stdout) as Array<{ sha256: string; names: string[] }>;
    assert.equal(json[0].sha256, fingerprint);
    // the pin it prints is what curl checks (and accepts) against the running server
    const again = await startServer({ dataDir, host: '127.0.0.1', ports: { ...ports }, log: captureLog('warn').log });
    try {
      const pin = /key pin\s+(sha256\/\/\S+)/.exec(r.stdout)![1];
      const ok = await run('curl', ['-sS', '-k', '--pinnedpubkey', pin, '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${portOf(again, 'https')}/`]);
      assert.equal(ok.status, 0, ok.stderr);
      const pinned = await run('curl', ['-sS', '--cacert', join(dataDir, 'tls', 'cert.pem'), '-o', '/dev/null', '-w', '%{http_code}', '--resolve', `localhost:${portOf(again, 'https')}:127.0.0.1`, `https://localhost:${portOf(again, 'https')}/`]);
      assert.equal(pinned.status, 0, pinned.stderr);
    } finally {
      await again.stop();
    }
  } finally {
    tmp.cleanup();
  }
});

test('clients that drop right after the TLS handshake do not hold up the server stopping', async () => {
  const tmp = tempDir();
  const server = await startServer({ dataDir: join(tmp.dir, 'data'), host: '127.0.0.1', ports, log: captureLog('warn').log });
  try {
    for (const name of ['imaps', 'pop3s', 'smtps', 'https']) {
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((ok, fail) => {
          const s = tls.connect({ host: '127.0.0.1', port: portOf(server, name), rejectUnauthorized: false }, () => { s.destroy(); ok(); });
          s.once('error', fail);
        });
      }
    }
  } finally {
    // before the fix, the IMAP listener's close waited for the half-open handshakes (up to the 120 s handshake timeout)
    await server.stop();
    tmp.cleanup();
  }
});
