import type { ParsedArgs } from './args.js';

/** Command groups contributed by front ends, loaded only when used. */
export const extraCommands: Record<string, (sub: string | undefined, args: ParsedArgs) => Promise<void>> = {
  dkim: async (sub, args) => (await import('./commands/dkim.js')).dkimCommand(sub, args),
  queue: async (sub, args) => (await import('./commands/queue.js')).queueCommand(sub, args),
  import: async (sub, args) => (await import('./commands/import.js')).importCommand(sub, args),
  tls: async (sub, args) => (await import('./commands/tls.js')).tlsCommand(sub, args),
  backup: async (_sub, args) => (await import('./commands/backup.js')).backupCommand(args),
  restore: async (_sub, args) => (await import('./commands/backup.js')).restoreCommand(args),
  store: async (sub, args) => (await import('./commands/store.js')).storeCommand(sub, args),
  devices: async (sub, args) => (await import('./commands/devices.js')).devicesCommand(sub, args),
};
