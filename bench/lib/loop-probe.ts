/**
 * A Node process that does nothing but measure its own event-loop delay (event-loop-delay.ts),
 * run beside the server during a load: on a shared, loaded machine a loop also waits for a
 * core, and this baseline tells that waiting apart from the server blocking its own loop.
 */
import { serveEventLoopDelay } from './event-loop-delay.js';

serveEventLoopDelay();
const keepAlive = setInterval(() => undefined, 1 << 30);
process.on('disconnect', () => {
  clearInterval(keepAlive);
  process.exit(0);
});
