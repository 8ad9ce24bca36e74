import type { ParsedArgs } from './args.js';

/** Command groups contributed by front ends, loaded only when used. */
export const extraCommands: Record<string, (sub: string | undefined, args: ParsedArgs) => Promise<void>> = {
  queue: async (sub, args) => (await import('./commands/queue.js')).queueCommand(sub, args),
  store: async (sub, args) => (await import('./commands/store.js')).storeCommand(sub, args),
};
