import type net from 'node:net';

/**
 * Reads from the socket until `pattern` appears in what was read (as Latin-1), then pauses it: what
 * the server says next stays unread until the caller reads again (the hardening tests' adversaries
 * rely on that).
 */
export function readUntil(socket: net.Socket, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (pattern.test(got)) {
        socket.off('data', onData);
        socket.pause();
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.resume();
    socket.once('error', reject);
  });
}
