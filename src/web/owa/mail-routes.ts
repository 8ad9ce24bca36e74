import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { MessageListItem } from '../../store/types.js';
import { intParam, MessageId, messageParam, requireSession, type OwaDeps } from './api-context.js';
import { HttpError } from './errors.js';
import { messageAttachments, renderMessage } from './render.js';

const Ids = z.array(MessageId).min(1).max(500);
const FlagsBody = z.object({ ids: Ids, seen: z.boolean().optional(), flagged: z.boolean().optional() });
const MoveBody = z.object({ ids: Ids, folderId: z.number().int().positive() });
const DeleteBody = z.object({ ids: Ids });

/** A list row: header facts only, never the body. (The folder ID apart: no object spread per row, which V8 makes slow.) */
export function listItem(m: MessageListItem & { folderId?: number }, folderId = m.folderId) {
  return {
    id: m.objectId, folderId, subject: m.subject, from: m.from, to: m.to, date: (m.date ?? m.internalDate).toISOString(),
    preview: m.preview, hasAttachments: m.hasAttachments, size: m.size,
    seen: m.flags.includes('\\Seen'), flagged: m.flags.includes('\\Flagged'), draft: m.flags.includes('\\Draft'),
  };
}

/**
 * Finds the user's messages by ID, grouped by folder (the store moves and flags by folder
 * and UID). Always with the session's user ID, so another user's IDs are simply "not found".
 */
export async function locate(deps: OwaDeps, userId: number, ids: string[]): Promise<Map<number, number[]>> {
  const byFolder = new Map<number, number[]>();
  for (const id of new Set(ids)) {
    const m = await deps.ctx.store.getMessage(userId, id);
    if (!m) throw new HttpError(404, `no message ${id}`);
    byFolder.set(m.folderId, [...(byFolder.get(m.folderId) ?? []), m.uid]);
  }
  return byFolder;
}

export function mailRoutes(app: FastifyInstance, deps: OwaDeps): void {
  const { store } = deps.ctx;

  app.get('/api/folders', async (req) => {
    const s = requireSession(deps, req);
    const folders = await store.listFolderCounts(s.user.id);
    return { folders: folders.map(({ folder: f, unseen, messages }) => ({ id: f.id, name: f.name, specialUse: f.specialUse, unread: unseen, total: messages })) };
  });

  /** A page of the list, newest first; answered from PageCache while the folder is unchanged. */
  app.get('/api/folders/:id/messages', async (req, reply) => {
    const s = requireSession(deps, req);
    const folderId = intParam((req.params as { id: string }).id, 'folder');
    const q = req.query as { offset?: string; limit?: string; q?: string };
    const offset = q.offset ? intParam(q.offset, 'offset') : 0;
    const limit = Math.min(q.limit ? intParam(q.limit, 'limit') : 50, 200);
    const query = (q.q ?? '').trim().slice(0, 200) || undefined;
    return s.store.withObject('objtFolderView', async () => {
      // the folder's state first, then the page: a change committed in between only makes
      // the stored page newer than its stamp, which the next request rebuilds
      const f = await store.getFolderById(s.user.id, folderId);
      if (!f) throw new HttpError(404, `no folder ${folderId}`);
      const key = `${s.user.id}/${folderId}/${offset}/${limit}/${query ?? ''}`;
      const stamp = `${f.uidValidity}/${f.highestModseq}`;
      let body = deps.pages.get(key, stamp);
      if (!body) {
        const page = await store.listMessagePage(s.user.id, folderId, offset, limit, query);
        body = Buffer.from(JSON.stringify({ total: page.total, offset, items: page.items.map((m) => listItem(m, folderId)) }));
        deps.pages.set(key, stamp, body, { userId: s.user.id, folderId });
      }
      return reply.type('application/json; charset=utf-8').send(body);
    });
  });

  app.get('/api/messages/:id', async (req) => {
    const s = requireSession(deps, req);
    const id = messageParam((req.params as { id: string }).id);
    const showImages = (req.query as { images?: string }).images === '1';
    return s.store.withObject('objtMessage', async () => {
      const m = await store.getMessage(s.user.id, id);
      if (!m) throw new HttpError(404, `no message ${id}`);
      const view = await renderMessage(await store.readBlob(m.blobHash), showImages);
      // opening a message marks it read, as every mail client does
      if (!m.flags.includes('\\Seen')) {
        await store.storeFlags(s.user.id, m.folderId, [m.uid], 'add', ['\\Seen']);
        m.flags = [...m.flags, '\\Seen'];
      }
      const item = listItem(m);
      return { ...item, ...view, date: view.date ?? item.date };
    });
  });

  app.get('/api/messages/:id/attachments/:index', async (req, reply) => {
    const s = requireSession(deps, req);
    const p = req.params as { id: string; index: string };
    const id = messageParam(p.id);
    const index = intParam(p.index, 'attachment');
    return s.store.withObject('objtAttachment', async () => {
      const m = await store.getMessage(s.user.id, id);
      if (!m) throw new HttpError(404, `no message ${id}`);
      const a = (await messageAttachments(await store.readBlob(m.blobHash)))[index];
      if (!a) throw new HttpError(404, `message ${id} has no attachment ${index}`);
      const name = (a.filename ?? `attachment-${index + 1}`).replace(/[\0-\x1f"\\/]/g, '_');
      // always a download, never rendered in our origin (an HTML attachment would run as us)
      reply.type('application/octet-stream');
      reply.header('content-disposition', `attachment; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`);
      reply.header('content-security-policy', "default-src 'none'; sandbox");
      reply.header('x-content-type-options', 'nosniff');
      return reply.send(a.content);
    });
  });

  app.post('/api/messages/flags', async (req) => {
    const s = requireSession(deps, req);
    const body = FlagsBody.parse(req.body);
    for (const [folderId, uids] of await locate(deps, s.user.id, body.ids)) {
      for (const [flag, on] of [['\\Seen', body.seen], ['\\Flagged', body.flagged]] as const) {
        if (on !== undefined) await store.storeFlags(s.user.id, folderId, uids, on ? 'add' : 'remove', [flag]);
      }
    }
    return { ok: true };
  });

  app.post('/api/messages/move', async (req) => {
    const s = requireSession(deps, req);
    const body = MoveBody.parse(req.body);
    if (!(await store.getFolderById(s.user.id, body.folderId))) throw new HttpError(404, `no folder ${body.folderId}`);
    let moved = 0;
    for (const [folderId, uids] of await locate(deps, s.user.id, body.ids)) {
      if (folderId === body.folderId) continue;
      moved += (await store.moveMessages(s.user.id, folderId, uids, body.folderId)).pairs.length;
    }
    return { moved };
  });

  /** Delete = move to Deleted Items; deleting from Deleted Items removes for good. */
  app.post('/api/messages/delete', async (req) => {
    const s = requireSession(deps, req);
    const body = DeleteBody.parse(req.body);
    const trash = await store.getSpecialFolder(s.user.id, '\\Trash');
    let moved = 0;
    let removed = 0;
    for (const [folderId, uids] of await locate(deps, s.user.id, body.ids)) {
      if (folderId === trash.id) {
        removed += (await store.removeMessages(s.user.id, folderId, uids)).length;
      } else {
        moved += (await store.moveMessages(s.user.id, folderId, uids, trash.id)).pairs.length;
      }
    }
    return { moved, removed };
  });
}
