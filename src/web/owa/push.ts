import type { FastifyInstance } from 'fastify';
import { requireSession, type OwaDeps } from './api-context.js';

/** Proxies and browsers drop silent connections; a comment line every 25 s keeps it open. */
const HEARTBEAT_MS = 25_000;

/**
 * New mail without reloading: a Server-Sent Events stream of the user's folder changes.
 * The stream holds one objtNotify object of the store session while open (an object limit
 * refusal is a 429 like any other), and ends when the session ends (sign out, admin kill).
 */
export function pushRoutes(app: FastifyInstance, deps: OwaDeps, streams: Set<() => void>): void {
  app.get('/api/events', async (req, reply) => {
    const s = requireSession(deps, req);
    const release = await s.store.openObject('objtNotify');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 5000\n\n');
    s.streams += 1;
    let done = false;
    const send = (event: string, data: unknown) => {
      if (!done) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = deps.ctx.changes.subscribeUser(s.user.id, (c) => send('change', { folderId: c.folderId, kind: c.kind }));
    const heartbeat = setInterval(() => {
      deps.sessions.touch(s);
      if (!done) res.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    const finish = (signedOut: boolean) => {
      if (done) return;
      if (signedOut) send('signedout', {});
      done = true;
      clearInterval(heartbeat);
      unsubscribe();
      release();
      s.streams -= 1;
      // the tab has gone: idle time counts from now
      if (s.store.isOpen) deps.sessions.touch(s);
      stopOnSessionEnd();
      streams.delete(endForServer);
      res.end();
    };
    const endForServer = () => finish(true);
    const stopOnSessionEnd = deps.sessions.onStreamClose(s, endForServer);
    streams.add(endForServer);
    // the response's close is the connection's: the tab was closed or the network dropped
    res.on('close', () => finish(false));
    send('ready', { sessionId: s.store.id });
  });
}
