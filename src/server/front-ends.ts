import type { ServerContext } from './context.js';
import type { Listener, ListenerOptions } from './listener.js';
import type { ServeOptions } from './serve.js';
import type { HttpPlugin } from '../web/http-server.js';
import { startSmtpServer } from '../protocols/smtp/server.js';
import { startOutboundQueue } from '../transport/queue.js';
import { startImapServer } from '../protocols/imap/server.js';
import { registerOwa } from '../web/owa/index.js';
import { registerEws } from '../protocols/ews/endpoint.js';
import { registerActiveSync } from '../protocols/activesync/plugin.js';

/**
 * The front ends besides POP3 and the HTTP shell: IMAP, SMTP, web mail, Exchange Web Services, ActiveSync. Kept in one place so
 * that serve.ts reads as the list of what runs; each entry starts one listener.
 */
export async function frontEnds(
  ctx: ServerContext,
  opts: ServeOptions,
  at: (port: number, implicitTls: boolean) => ListenerOptions,
): Promise<{ listeners: Listener[]; stopHooks: Array<() => Promise<void>>; httpPlugins: HttpPlugin[] }> {
  const listeners: Listener[] = [];
  const stopHooks: Array<() => Promise<void>> = [];
  try {
    listeners.push(await startImapServer(ctx, at(opts.ports.imap, false)));
    listeners.push(await startImapServer(ctx, at(opts.ports.imaps, true)));
    listeners.push(await startSmtpServer(ctx, { ...at(opts.ports.smtp, false), mode: 'mx' }));
    listeners.push(await startSmtpServer(ctx, { ...at(opts.ports.submission, false), mode: 'submission' }));
    listeners.push(await startSmtpServer(ctx, { ...at(opts.ports.submissions, true), mode: 'submission' }));
    if (opts.ports.lmtp !== undefined) listeners.push(await startSmtpServer(ctx, { ...at(opts.ports.lmtp, false), mode: 'lmtp' }));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close().catch(() => undefined)));
    throw err;
  }
  const queue = startOutboundQueue(ctx);
  stopHooks.push(() => queue.stop());
  return { listeners, stopHooks, httpPlugins: [registerOwa, registerEws, registerActiveSync] };
}
