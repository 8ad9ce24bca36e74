import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LOG_LEVELS } from '../observability/log.js';

/**
 * The optional --config FILE (JSON). Everything an administrator changes often lives in
 * live settings (`mailwarden settings`); this file holds what needs secrets or a restart.
 */
export const ServerConfigSchema = z
  .object({
    /** Where mailboxes are kept: a postgres://… URL (several nodes on one database); the data folder's SQLite file without it. `serve --store` overrides it. */
    store: z.string().regex(/^postgres(ql)?:\/\//i, 'a postgres://… URL').optional(),
    /** Name used in SMTP greetings, Received: headers and DSNs; defaults to the host name. */
    hostname: z.string().min(1).max(253).optional(),
    smtp: z
      .object({
        smartHost: z
          .object({
            host: z.string().min(1),
            port: z.number().int().min(1).max(65535).default(25),
            /** implicit: TLS from the first byte; starttls: upgrade required; none: plain (loopback/test relays only) */
            tls: z.enum(['implicit', 'starttls', 'none']).default('starttls'),
            user: z.string().optional(),
            password: z.string().optional(),
            /** PEM of a CA (or the relay's self-signed certificate) to trust besides the system's. */
            ca: z.string().optional(),
          })
          .strict()
          .optional(),
        /**
         * Port of the receiving servers when delivering by MX (no smart host): 25. Another value is
         * for tests, whose receivers on loopback cannot all listen on port 25.
         */
        deliveryPort: z.number().int().min(1).max(65535).default(25),
        /**
         * PEM of CAs trusted besides the system's for MTA-STS (the policy host's certificate and
         * the MX certificates of an enforced policy): a private CA, or the tests' own.
         */
        trustedCa: z.string().optional(),
        /** Port of MTA-STS policy hosts: 443. Another value is for tests only, like deliveryPort. */
        mtaStsPort: z.number().int().min(1).max(65535).default(443),
        /**
         * Retry schedule for the outbound queue, in seconds after the first attempt; past its last
         * offset a message bounces (2 days, as Exchange's MessageExpirationTimeout). Behind the
         * schedule, retries keep its spacing from the last attempt (queue.ts).
         */
        retrySchedule: z.array(z.number().int().positive()).min(1).default([60, 300, 900, 3600, 14400, 43200, 86400, 172800]),
        /**
         * RFC 3461 NOTIFY=DELAY: seconds a message may wait in the queue before its sender gets a
         * "delayed" DSN (once, at the first retry past it); 4 hours as Exchange's DelayNotificationTimeout.
         */
        delayNotificationAfter: z.number().int().positive().default(14400),
      })
      .strict()
      .default({ deliveryPort: 25, mtaStsPort: 443, retrySchedule: [60, 300, 900, 3600, 14400, 43200, 86400, 172800], delayNotificationAfter: 14400 }),
    /** Certificates besides the data folder's own (README "Certificates"); all reloaded live when their files change. */
    tls: z
      .object({
        /** PEM files; the first is what clients that send no server name get. Each one serves the names it holds (SNI). */
        certificates: z.array(z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict()).default([]),
        /** How often the certificate files are looked at for changes (0: never; SIGHUP still reloads). */
        pollSeconds: z.number().min(0).max(3600).default(2),
      })
      .strict()
      .default({ certificates: [], pollSeconds: 2 }),
    /** Certificates from an ACME CA (Let's Encrypt…), obtained and renewed by the server itself (README "Certificates"). */
    acme: z
      .object({
        /** The CA's directory, e.g. https://acme-v02.api.letsencrypt.org/directory */
        directoryUrl: z.string().url(),
        /** The names the certificate is for; the first is its subject. */
        domains: z.array(z.string().min(1).max(253).regex(/^[A-Za-z0-9.-]+$/, 'a host name')).min(1).max(100),
        /** Contact address for the CA's expiry notices. */
        email: z.string().email().optional(),
        /** HTTP-01 responder: the CA asks on port 80 of each domain; this port must receive it. */
        httpPort: z.number().int().min(0).max(65535).default(80),
        httpHost: z.string().optional(),
        /** A CA file to trust for the directory's HTTPS (a private ACME CA). */
        directoryCaFile: z.string().optional(),
        renewWhenLeft: z.number().gt(0).lt(1).default(1 / 3),
        checkIntervalSeconds: z.number().int().min(1).default(12 * 3600),
        retryAfterFailureSeconds: z.number().int().min(1).default(3600),
      })
      .strict()
      .optional(),
    /**
     * DNS for SPF/DKIM/DMARC checks and delivery by MX: `servers` ("IP" or "IP:PORT") replaces
     * the system's resolvers (/etc/resolv.conf). Tests point it at a server on 127.0.0.1.
     */
    dns: z
      .object({ servers: z.array(z.string().min(1)).min(1).optional() })
      .strict()
      .default({}),
    /**
     * Several nodes (README "Running several nodes"): Redis carries the session accounting, the
     * change notification and the shared state. `serve --redis URL` sets or overrides `redis`.
     */
    cluster: z
      .object({
        /** redis://host:port[/db][?prefix=name:] — the prefix keeps deployments sharing one Redis apart. */
        redis: z.string().min(1).optional(),
        /** How long a node's sessions stay counted without a renewal (fencing: the node ends them first). */
        leaseSeconds: z.number().positive().max(3600).default(30),
        /** How often a node renews its lease; must be well below leaseSeconds. */
        renewSeconds: z.number().positive().max(3600).default(10),
        /** How often a node compares HIGHESTMODSEQs with the store, in case a change message was lost. */
        modseqCheckSeconds: z.number().positive().max(3600).default(10),
      })
      .strict()
      .refine((c) => c.renewSeconds * 2 <= c.leaseSeconds, { message: 'renewSeconds must be at most half of leaseSeconds' })
      .optional(),
    /**
     * PROXY protocol (v1 and v2) on every listener, from these addresses only (IP or CIDR): the
     * load balancer's. A connection from anywhere else is served as a direct client, and one from
     * a trusted address without a valid PROXY header is closed.
     */
    proxyProtocol: z
      .object({ trusted: z.array(z.string().min(1)).min(1) })
      .strict()
      .optional(),
    /** The structured log on standard error; MAILWARDEN_LOG_LEVEL overrides the level for one run. */
    log: z
      .object({ level: z.enum(LOG_LEVELS).optional() })
      .strict()
      .default({}),
  })
  .strict();

export type ServerConfig = z.infer<typeof ServerConfigSchema>;

export function defaultConfig(): ServerConfig {
  return ServerConfigSchema.parse({});
}

export function loadConfig(file: string | undefined): ServerConfig {
  if (!file) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const r = ServerConfigSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`config file ${file}: ${i.path.join('.') || '(top)'}: ${i.message}`);
  }
  return r.data;
}
