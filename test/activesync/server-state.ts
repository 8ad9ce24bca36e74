// What the ActiveSync tests read from a running test server besides the wire: the held-request
// table of its HTTPS listener and a user's `eas` store sessions.
import type { TestServer } from '../helpers/server.js';
import { EAS_DECORATION, type EasState } from '../../src/protocols/activesync/plugin.js';

/** The HTTPS listener's held Pings and Syncs with Wait (its size tells when a request is held). */
export const heldRequestsOf = (srv: TestServer): EasState['held'] =>
  ((srv.listeners.find((l) => l.name === 'https') as unknown as { app: Record<string, EasState> }).app[EAS_DECORATION]!).held;

/** The user's `eas` sessions in the governor. */
export const easSessionsOf = async (srv: TestServer, userId: number) => (await srv.ctx.governor.list({ userId })).filter((s) => s.kind === 'eas');
