import type { Socket } from 'node:net';

/**
 * How long a connection we answered early (a 413 before the request body was read) keeps reading
 * what the client still sends, before it is torn down anyway. The bytes are discarded as they come.
 */
export const LINGER_MS = 30_000;

/**
 * Makes the close that Node's HTTP server does after an answer with `connection: close` a
 * lingering one. Node ends the connection at once; if the client is still sending the request body
 * (a client uploading 35 MB gets its 413 after the first bytes over the limit), the data arriving
 * after the close makes the kernel answer with a reset, and a reset can throw away the answer the
 * client has not read yet, so the client sees "connection reset" instead of the 413. Here the write
 * side is ended (the answer and a FIN go out), the rest of the body is read and dropped, and the
 * socket is destroyed when the client ends its side or LINGER_MS pass (Apache's lingering close).
 */
export function lingerOnClose(socket: Socket, lingerMs = LINGER_MS): void {
  const s = socket as Socket & { destroySoon?: () => void };
  s.destroySoon = () => {
    if (s.writable) s.end();
    const timer = setTimeout(() => s.destroy(), lingerMs);
    timer.unref();
    s.once('end', () => s.destroy());
    s.once('close', () => clearTimeout(timer));
    s.resume();
  };
}
