import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPServer } from 'smtp-server';

/**
 * smtp-server waits a fixed 100 ms before every greeting to catch "early talkers" (spam
 * software that sends before the 220; it answers them 421 "You talk too soon"). That pause
 * is useful on port 25 only: a submission client pays it on every send and an LMTP client
 * (Postfix handing over local mail) per connection. The library has no option for it, so its
 * `init` is replaced, once, by one that reads the pause from the server's
 * `greetingDelayMs` (a function, so that a live setting applies to the next connection).
 * A server without that option keeps the library's own behaviour.
 *
 * The replacement does what the library's `init` does (smtp-server 3.21: listeners, the
 * maxClients check, then the pause before connectionReady) with the pause made variable.
 */
export type GreetingDelay = () => number;

const delays = new WeakMap<SMTPServer, GreetingDelay>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const original = SMTPConnection.prototype.init;
  SMTPConnection.prototype.init = function init(this: SMTPConnection): void {
    const delay = delays.get(this._server);
    if (!delay) return original.call(this);
    this._setListeners(() => {
      const options = this._server.options;
      if (options.maxClients && this._server.connections.size > options.maxClients) {
        return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      const ms = Math.max(0, delay());
      if (ms === 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), ms).unref();
    });
  };
}

/** Makes `server` pause `delay()` milliseconds before each greeting (0: greet at once). */
export function setGreetingDelay(server: SMTPServer, delay: GreetingDelay): void {
  install();
  delays.set(server, delay);
}
