import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LOG_LEVELS } from '../observability/log.js';

/**
 * The optional --config FILE (JSON). Everything an administrator changes often lives in
 * live settings (`mailwarden settings`); this file holds what needs secrets or a restart.
 */
export const ServerConfigSchema = z
  .object({
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
        /** Retry schedule for the outbound queue, in seconds after the first attempt. */
        retrySchedule: z.array(z.number().int().positive()).min(1).default([60, 300, 900, 3600, 14400, 43200]),
      })
      .strict()
      .default({ retrySchedule: [60, 300, 900, 3600, 14400, 43200] }),
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
