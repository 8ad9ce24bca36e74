/** MoveItems (MS-ASCMD 2.2.1.12): each message keeps its ServerId (the store's id survives a move). */
import type { EasAnswer, EasCall } from '../call.js';
import { folderOf } from '../folders.js';
import { childText, children, el } from '../wbxml/codec.js';

export async function moveItems(call: EasCall): Promise<EasAnswer> {
  const responses = [];
  for (const m of children(call.body ?? undefined, 'Move')) {
    const src = childText(m, 'SrcMsgId') ?? '';
    const answer = (status: number, dst?: string) => el('Move', 'Response', [el('Move', 'SrcMsgId', src), el('Move', 'Status', String(status)), dst ? el('Move', 'DstMsgId', dst) : null]);
    const from = await folderOf(call.ctx.store, call.user.id, childText(m, 'SrcFldId'));
    const to = await folderOf(call.ctx.store, call.user.id, childText(m, 'DstFldId'));
    const msg = from ? await call.ctx.store.getMessage(call.user.id, src) : null;
    if (!from || !msg || msg.folderId !== from.id) responses.push(answer(1));
    else if (!to) responses.push(answer(2));
    else if (to.id === from.id) responses.push(answer(4));
    else {
      await call.ctx.store.moveMessages(call.user.id, from.id, [msg.uid], to.id);
      responses.push(answer(3, src));
    }
  }
  return { wbxml: el('Move', 'MoveItems', responses) };
}
