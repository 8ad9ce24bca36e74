import type { Folder } from '../../store/types.js';
import { no } from './errors.js';
import type { ImapSession } from './session.js';

/**
 * The user's folder of this (store) name, or the NO every command gives for a missing one:
 * [NONEXISTENT], or [TRYCREATE] where the client may create it and try again (APPEND, COPY,
 * MOVE: RFC 3501 6.3.11, 6.4.7).
 */
export async function folderOrFail(s: ImapSession, name: string, missing: 'NONEXISTENT' | 'TRYCREATE' = 'NONEXISTENT'): Promise<Folder> {
  const f = await s.ctx.store.getFolder(s.user!.id, name);
  if (!f) throw no(`Mailbox ${name.slice(0, 100)} does not exist`, missing);
  return f;
}
