import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The front ends a logon comes through (label `frontend`). */
export type FrontEnd = 'imap' | 'pop3' | 'smtp' | 'owa' | 'ews' | 'eas';

/**
 * How a logon ended (label `outcome`): `success`, or the layer that refused it — the refusal
 * kinds of the logon pipeline (`auth` wrong password, `lockout` brute-force guard, `protocol`
 * connection limits, `throttling` policy, `store` session limits) — or `error` (a failure that
 * is no refusal, such as the store being unavailable).
 */
export type LogonOutcome = 'success' | 'auth' | 'lockout' | 'protocol' | 'throttling' | 'store' | 'error';

/** What happened to a message for one recipient (label `result` of mailwarden_deliveries_total). */
export type DeliveryResult = 'delivered' | 'queued' | 'relayed' | 'deferred' | 'failed' | 'over-quota' | 'dsn-sent' | 'dsn-lost';

const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * The server's Prometheus metrics (prom-client), one registry per server so that test servers in
 * one process do not share counts. Front ends record through the methods below; labels hold only
 * bounded values (front end, outcome, command name from the protocol's table), never user names.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly logons: Counter<'frontend' | 'outcome'>;
  private readonly refusals: Counter<'frontend' | 'layer'>;
  private readonly connectionRefusals: Counter<'protocol' | 'setting'>;
  private readonly commands: Histogram<'protocol' | 'command'>;
  private readonly deliveries: Counter<'result'>;
  private readonly storeOps: Histogram<'operation' | 'outcome'>;

  constructor() {
    // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_seconds…,
    // under their usual names so that ready-made dashboards work.
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.logons = new Counter({
      name: 'mailwarden_logons_total', help: 'Logons by front end and outcome (success or the refusing layer).',
      labelNames: ['frontend', 'outcome'], registers,
    });
    this.refusals = new Counter({
      name: 'mailwarden_logon_refusals_total', help: 'Refused logons by access layer (auth, lockout, protocol, throttling, store) and front end.',
      labelNames: ['frontend', 'layer'], registers,
    });
    this.connectionRefusals = new Counter({
      name: 'mailwarden_connection_refusals_total', help: 'Connections refused before any logon by the protocol connection layer, by protocol and the setting that refused.',
      labelNames: ['protocol', 'setting'], registers,
    });
    this.commands = new Histogram({
      name: 'mailwarden_command_duration_seconds', help: 'Time from a command (HTTP: request) to its answer, by protocol and command.',
      labelNames: ['protocol', 'command'], buckets: SECONDS_BUCKETS, registers,
    });
    this.deliveries = new Counter({
      name: 'mailwarden_deliveries_total', help: 'Messages per recipient by result: delivered locally, queued, relayed, deferred, failed, over quota; DSNs sent or lost.',
      labelNames: ['result'], registers,
    });
    this.storeOps = new Histogram({
      name: 'mailwarden_store_operation_duration_seconds', help: 'Store operations (Store interface methods) by operation and outcome.',
      labelNames: ['operation', 'outcome'], buckets: STORE_BUCKETS, registers,
    });
  }

  /** The one place a logon is counted: every front end's logon path ends here, whatever the outcome. */
  recordLogon(frontEnd: FrontEnd, outcome: LogonOutcome): void {
    this.logons.inc({ frontend: frontEnd, outcome });
    if (outcome !== 'success' && outcome !== 'error') this.refusals.inc({ frontend: frontEnd, layer: outcome });
  }

  /** A connection refused at accept time (MaxConnections, MaxConnectionFromSingleIP): the protocol layer, before any logon. */
  recordConnectionRefusal(protocol: 'imap' | 'pop3' | 'smtp', setting: string): void {
    this.connectionRefusals.inc({ protocol, setting });
  }

  /** Seconds from a command's arrival to its answer. */
  observeCommand(protocol: string, command: string, seconds: number): void {
    this.commands.observe({ protocol, command }, seconds);
  }

  countDelivery(result: DeliveryResult, recipients = 1): void {
    if (recipients > 0) this.deliveries.inc({ result }, recipients);
  }

  observeStoreOperation(operation: string, ok: boolean, seconds: number): void {
    this.storeOps.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds);
  }

  /**
   * A metric read when scraped (open sessions, connections, the governor's own counts): the
   * values come from `read` at every scrape, so their owner keeps counting its own way.
   */
  exposeReading(type: 'counter' | 'gauge', name: string, help: string, label: string, read: () => Record<string, number> | Promise<Record<string, number>>): void {
    const registers = [this.registry];
    if (type === 'gauge') {
      new Gauge({
        name, help, labelNames: [label], registers,
        async collect(this: Gauge<string>) {
          const values = await read();
          this.reset();
          for (const [value, n] of Object.entries(values)) this.set({ [label]: value }, n);
        },
      });
    } else {
      new Counter({
        name, help, labelNames: [label], registers,
        async collect(this: Counter<string>) {
          const values = await read();
          this.reset();
          for (const [value, n] of Object.entries(values)) this.inc({ [label]: value }, n);
        },
      });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
