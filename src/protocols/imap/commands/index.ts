// Every command the server knows, by name ("UID FETCH" for UID forms).
import { anyStateCommands } from './any-state.js';
import { appendCommands } from './append.js';
import { authCommands } from './auth.js';
import { copyMoveCommands } from './copy-move.js';
import { expungeCommands } from './expunge.js';
import { fetchCommands } from './fetch.js';
import { idleCommands } from './idle.js';
import { listCommands } from './list.js';
import { mailboxCommands } from './mailboxes.js';
import { quotaCommands } from './quota.js';
import { searchCommands } from './search.js';
import { selectCommands } from './select.js';
import { sortCommands } from './sort.js';
import { statusCommands } from './status.js';
import { storeCommands } from './store.js';
import type { CommandSpec } from './types.js';

export const COMMANDS: Record<string, CommandSpec> = {
  ...anyStateCommands, ...authCommands, ...mailboxCommands, ...listCommands, ...statusCommands, ...selectCommands,
  ...appendCommands, ...expungeCommands, ...searchCommands, ...fetchCommands, ...storeCommands, ...copyMoveCommands,
  ...idleCommands, ...quotaCommands, ...sortCommands,
};
