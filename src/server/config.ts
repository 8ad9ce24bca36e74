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
        /** Retry schedule for the outbound queue, in seconds after the first attempt. */
        retrySchedule: z.array(z.number().int().positive()).min(1).default([60, 300, 900, 3600, 14400, 43200]),
      })
      .strict()
      .default({ retrySchedule: [60, 300, 900, 3600, 14400, 43200] }),
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
