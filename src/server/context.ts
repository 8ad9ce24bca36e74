import type { Store } from '../store/store.js';
import type { SessionAccounting } from '../governor/accounting.js';
import type { ChangeBus } from '../store/change-bus.js';
import type { LiveSettings } from '../settings/resolve.js';
import type { SessionGovernor } from '../governor/governor.js';
import type { EventLog } from '../events/event-log.js';
import type { AccessContext } from '../access/logon.js';
import type { BruteForceGuard } from '../access/brute-force-guard.js';
import type { AccountGuard } from '../access/account-guard.js';
import type { SharedState } from '../shared-state/shared-state.js';
import type { Clock } from '../shared-state/clock.js';
import type { CredentialCache } from '../access/credentials.js';
import type { ServerConfig } from './config.js';
import type { Metrics } from '../observability/metrics.js';
import type { Log } from '../observability/log.js';
import type { Certificates } from '../tls/certificates.js';


/** What every front end gets: the store and the governance around it. Front ends never import each other. */
export interface ServerContext {
  store: Store;
  /** Committed store changes (the store publishes; IMAP, web push and the page cache subscribe). */
  changes: ChangeBus;
  settings: LiveSettings;
  governor: SessionGovernor;
  events: EventLog;
  /** Protocol connection and throttling limits per front end (access/connection-limits.ts). */
  connections: AccessContext['connections'];
  /** Failed logons per client address, on `state` (access/brute-force-guard.ts). */
  bruteForceGuard: BruteForceGuard;
  /** Failed logons per account across addresses, on `state` (access/account-guard.ts). */
  accountGuard: AccountGuard;
  /**
   * What the nodes of a cluster must agree on (web sessions, brute-force counters, event-9646
   * windows) goes here: in process on one node, Redis in the cluster issue.
   */
  state: SharedState;
  /** Where time comes from, so that windows and TTLs can be tested with a manual clock. */
  clock: Clock;
  /** Verified-credentials cache: every front end checks passwords through it (verify), never the store directly. */
  credentials: CredentialCache;
  /** The certificates every listener serves (SNI, live reload): src/tls/certificates.ts. */
  tls: Certificates;
  dataDir: string;
  /** Host name shown in greetings, events and the web mail error page. */
  computer: string;
  config: ServerConfig;
  /** Prometheus metrics (GET /metrics). */
  metrics: Metrics;
  /** The server's structured log; a session logs through a child carrying its session id. */
  log: Log;
  /** Present when the node is one of several (config.cluster.redis): closed last at shutdown. */
  cluster?: { accounting: SessionAccounting; close(): Promise<void> };
}
