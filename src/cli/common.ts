import { resolve } from 'node:path';
import type { ParsedArgs } from './args.js';
import { CliError } from './args.js';
import { isPostgresUrl, openStoreAt } from '../server/create-context.js';
import type { Store } from '../store/store.js';
import type { User } from '../store/types.js';

export function dataDirOf(args: ParsedArgs): string {
  return resolve(args.flags.get('data') ?? process.env.MAILWARDEN_DATA ?? './data');
}

/** The cluster's Redis (--redis or MAILWARDEN_REDIS), when the command talks to several nodes. */
export function redisOf(args: ParsedArgs): string | undefined {
  return args.flags.get('redis') ?? process.env.MAILWARDEN_REDIS ?? undefined;
}

/**
 * Where the command's store is: `--store postgres://…` (or MAILWARDEN_STORE), a PostgreSQL
 * database several nodes share; otherwise the data folder (`--data`, or `--store DIR`).
 */
export function storeLocationOf(args: ParsedArgs): string {
  const store = args.flags.get('store') ?? process.env.MAILWARDEN_STORE;
  if (store && isPostgresUrl(store)) return store;
  return store && !args.flags.has('data') ? resolve(store) : dataDirOf(args);
}

/** Opens the command's store (storeLocationOf) for one command and always closes it. */
export async function withStore<T>(args: ParsedArgs, fn: (store: Store) => Promise<T>, create = false): Promise<T> {
  const store = await openStoreAt(storeLocationOf(args), create);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export async function requireUser(store: Store, identity: string | undefined): Promise<User> {
  if (!identity) throw new CliError('name a user (address or alias)');
  const user = await store.findUser(identity);
  if (!user) throw new CliError(`no user "${identity}"`);
  return user;
}

export async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CliError('--password-stdin reads the password from standard input; pipe it in (echo … | mailwarden …)');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const pw = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!pw) throw new CliError('the password read from standard input is empty');
  return pw;
}

export function positional(args: ParsedArgs, i: number, what: string): string {
  const v = args.positionals[i];
  if (v === undefined) throw new CliError(`missing ${what}`);
  return v;
}
