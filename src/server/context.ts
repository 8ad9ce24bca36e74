import type { Store } from '../store/store.js';
import type { ChangeBus } from '../store/change-bus.js';
import type { LiveSettings } from '../settings/resolve.js';
import type { SessionGovernor } from '../governor/governor.js';
import type { EventLog } from '../events/event-log.js';
import type { ConnectionLimits } from '../access/connection-limits.js';
import type { AuthGuard } from '../access/auth-guard.js';
import type { ServerConfig } from './config.js';

export interface TlsMaterial {
  key: string;
  cert: string;
}

/** What every front end gets: the store and the governance around it. Front ends never import each other. */
export interface ServerContext {
  store: Store;
  /** Committed store changes (the store publishes; IMAP, web push and the page cache subscribe). */
  changes: ChangeBus;
  settings: LiveSettings;
  governor: SessionGovernor;
  events: EventLog;
  connections: { pop: ConnectionLimits; imap: ConnectionLimits };
  authGuard: AuthGuard;
  tls: TlsMaterial;
  dataDir: string;
  /** Host name shown in greetings, events and the web mail error page. */
  computer: string;
  config: ServerConfig;
}
