import type { ParsedArgs } from './args.js';

/** Command groups contributed by front ends, loaded only when used. */
export const extraCommands: Record<string, (sub: string | undefined, args: ParsedArgs) => Promise<void>> = {
  dkim: async (sub, args) => (await import('./commands/dkim.js')).dkimCommand(sub, args),
  queue: async (sub, args) => (await import('./commands/queue.js')).queueCommand(sub, args),
};
