import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { followCertificates } from '../../tls/certificates.js';
import type { ServerContext } from '../../server/context.js';
import type { Listener, ListenerOptions } from '../../server/listener.js';
import { LOGON_ANSWERS, pop3Line } from '../../access/answers.js';
import { normaliseClientAddress } from '../../access/client-address.js';
import { logLimitRefusal } from '../../access/logon.js';
import { Pop3Session } from './session.js';
import { acceptProxyProtocol } from '../shared/proxy-protocol.js';

/** POP3 on a plain port (STLS offered) or with implicit TLS (995). */
export async function startPop3Server(ctx: ServerContext, opts: ListenerOptions): Promise<Listener> {
  const sessions = new Set<Pop3Session>();
  const onConnection = async (socket: Socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    const ip = normaliseClientAddress(socket.remoteAddress);
    await ctx.settings.refresh();
    const admitted = ctx.connections.pop.admitConnection(ip);
    if (!admitted.ok) {
      const r = admitted.refusal;
      ctx.metrics.recordConnectionRefusal('pop3', r.setting);
      ctx.log.info({ frontend: 'pop3', client: ip, setting: r.setting, count: r.count, limit: r.limit }, 'connection refused');
      void logLimitRefusal(ctx, 'pop3', r);
      socket.end(`${pop3Line(LOGON_ANSWERS.protocol.pop3(r))}\r\n`);
      return;
    }
    const session = new Pop3Session(ctx, socket, opts.implicitTls, ip, admitted.release, (s) => sessions.delete(s));
    sessions.add(session);
    session.greet();
  };
  const server: Server = opts.implicitTls
    ? createTlsServer(ctx.tls.serverOptions(), (s) => void onConnection(s))
    : createNetServer((s) => void onConnection(s));
  const stopFollowing = opts.implicitTls ? followCertificates(server as TlsServer, ctx.tls) : () => undefined;
  acceptProxyProtocol(server, opts.proxy, (peer, reason) => ctx.log.warn({ peer, reason, frontend: 'pop3' }, 'PROXY header refused'));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  return {
    name: opts.implicitTls ? 'pop3s' : 'pop3',
    host: opts.host,
    port: typeof addr === 'object' && addr ? addr.port : opts.port,
    implicitTls: opts.implicitTls,
    async close() {
      stopFollowing();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) {
          s.send('-ERR [SYS/TEMP] Server shutting down');
          void s.end('shutdown');
        }
      });
    },
  };
}
