/**
 * The IMAP4 listener: plain (STARTTLS offered) or implicit TLS. Each accepted connection
 * passes the protocol connection limits first (SPEC 3.5), then lives as an ImapSession.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ServerContext } from '../../server/context.js';
import type { Listener, ListenerOptions } from '../../server/listener.js';
import { LOGON_ANSWERS } from '../../access/answers.js';
import { normaliseClientAddress } from '../../access/client-address.js';
import { logLimitRefusal } from '../../access/logon.js';
import { Connection } from './connection.js';
import { followCertificates } from '../../tls/certificates.js';
import { INPUT_BUDGET_SETTING } from '../shared/input-budget.js';
import { ProtocolLog } from '../shared/protocol-log.js';
import { ImapSession, type ImapTuning, type ServerShared } from './session.js';
import { acceptProxyProtocol } from '../shared/proxy-protocol.js';

export type { ImapTuning } from './session.js';

export async function startImapServer(ctx: ServerContext, opts: ListenerOptions, tuning: ImapTuning = {}): Promise<Listener> {
  const shared: ServerShared = {
    ctx, implicitTls: opts.implicitTls, tuning,
    log: new ProtocolLog(ctx.dataDir, 'imap'), sessions: new Set(),
  };
  const onSocket = (socket: net.Socket) => {
    accept(shared, socket, opts.implicitTls).catch((err) => {
      ctx.log.error({ err, frontend: 'imap' }, 'connection failed');
      socket.destroy();
    });
  };
  const server = opts.implicitTls
    ? tls.createServer({ ...ctx.tls.serverOptions(), allowHalfOpen: true }, onSocket)
    : net.createServer({ allowHalfOpen: true }, onSocket);
  const stopFollowing = server instanceof tls.Server ? followCertificates(server, ctx.tls) : () => undefined;
  // Every accepted TCP connection, also those still in the TLS handshake: a client that vanishes
  // mid-handshake leaves (with allowHalfOpen) a socket that no session owns and that would hold
  // up close() until the handshake timeout. close() ends the ones no session ended.
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // A failed TLS handshake never reaches onSocket; it must not take the listener down.
  server.on('tlsClientError', (_err: Error, s: tls.TLSSocket) => s.destroy());
  server.on('error', (err) => ctx.log.error({ err, frontend: 'imap', port: opts.port }, 'listener failed'));
  acceptProxyProtocol(server, opts.proxy, (peer, reason) => ctx.log.warn({ peer, reason, frontend: 'imap' }, 'PROXY header refused'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return {
    name: opts.implicitTls ? 'imaps' : 'imap',
    host: opts.host,
    port: address.port,
    implicitTls: opts.implicitTls,
    async close() {
      stopFollowing();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const sessions = [...shared.sessions];
      for (const s of sessions) {
        if (s.isFinished) continue;
        s.bye('Server shutting down');
        s.end('shutdown');
      }
      await Promise.all(sessions.map((s) => s.finish()));
      for (const s of sockets) s.destroy();
      await closed;
      await shared.log.flushed();
    },
  };
}

async function accept(shared: ServerShared, socket: net.Socket, secure: boolean): Promise<void> {
  const { ctx } = shared;
  socket.setNoDelay(true);
  socket.on('error', () => undefined); // reported through 'close'
  const ip = normaliseClientAddress(socket.remoteAddress);
  try {
    await ctx.settings.refresh(); // settings apply to the very next connection
  } catch {
    // the last known settings still hold
  }
  const admitted = ctx.connections.imap.admitConnection(ip);
  if (!admitted.ok) {
    const r = admitted.refusal;
    ctx.metrics.recordConnectionRefusal('imap', r.setting);
    ctx.log.info({ frontend: 'imap', client: ip, setting: r.setting, count: r.count, limit: r.limit }, 'connection refused');
    const a = LOGON_ANSWERS.protocol.imap(r);
    socket.end(`* BYE [${a.code}] ${a.text}\r\n`);
    setTimeout(() => socket.destroy(), 1000).unref();
    await logLimitRefusal(ctx, 'imap', admitted.refusal);
    return;
  }
  // The client may have gone while the settings were read: with allowHalfOpen its 'end' has
  // been emitted already and no 'close' follows, so a session made now would wait for input
  // that never comes (and hold up the listener's close until the pre-login timeout).
  if (socket.destroyed || socket.readableEnded) {
    admitted.release();
    socket.destroy();
    return;
  }
  const placeholder = { maxLineLength: 65_536, maxLiteralSize: 64 * 1024, maxCommandSize: 320 * 1024 };
  const conn = new Connection(socket, secure, placeholder, ctx.settings.int(INPUT_BUDGET_SETTING));
  const session = new ImapSession(shared, conn, admitted.release);
  conn.setLimits(session.framerLimits());
  shared.sessions.add(session);
  await session.run();
}
