/**
 * Subscribe (pull and streaming), GetEvents, GetStreamingEvents, Unsubscribe.
 *
 * A GetStreamingEvents connection holds its request's `ews` store session for its whole life
 * (so it counts against the session limits like an IMAP IDLE connection does) and one
 * objtNotify, as IMAP IDLE does; it answers with one SOAP envelope per batch of events, a
 * keep-alive every 30 s, and `ConnectionStatus` Closed when ConnectionTimeout (minutes) ends it.
 */
import type { Folder } from '../../../store/types.js';
import { EwsError, type Operation } from '../call.js';
import { folderIdElements, resolveFolder } from '../folders.js';
import { errorMessage, okMessage, perObject, responseMessages } from '../responses.js';
import { envelope, responseElement } from '../soap.js';
import { EVENT_TYPES, subscriptionsOf, type Subscription } from '../subscriptions.js';
import { child, childText, children, esc, xsBool } from '../xml.js';

const KEEPALIVE_MS = 30_000;

export const subscribe: Operation = async (call, op) => {
  const req = child(op, 'PullSubscriptionRequest') ?? child(op, 'StreamingSubscriptionRequest');
  if (!req) throw new EwsError('ErrorInvalidSubscriptionRequest', 'Only pull and streaming subscriptions are supported (no push)');
  const streaming = req.name === 'StreamingSubscriptionRequest';
  const all = xsBool(req.attrs['SubscribeToAllFolders']);
  const folders: Folder[] = [];
  if (!all) {
    for (const el of folderIdElements(child(req, 'FolderIds'))) {
      const f = await resolveFolder(call, el);
      if (!f) throw new EwsError('ErrorInvalidSubscriptionRequest', 'Subscribe to folders, or SubscribeToAllFolders, not to the root');
      folders.push(f);
    }
    if (!folders.length) throw new EwsError('ErrorInvalidSubscriptionRequest', 'No folder to subscribe to');
  }
  const types = children(child(req, 'EventTypes'), 'EventType').map((e) => e.text.trim()).filter((t) => (EVENT_TYPES as readonly string[]).includes(t));
  if (!types.length) throw new EwsError('ErrorInvalidSubscriptionRequest', 'No event type to subscribe to');
  const table = subscriptionsOf(call.ctx);
  const sub = await table.create(call.user.id, { streaming, folders: all ? null : folders, types, timeoutMinutes: Number(childText(req, 'Timeout') ?? 30) });
  const wm = streaming ? '' : `<m:Watermark>${esc(table.watermark(sub))}</m:Watermark>`;
  return responseMessages([okMessage('Subscribe', `<m:SubscriptionId>${esc(sub.id)}</m:SubscriptionId>${wm}`)]);
};

function notification(table: ReturnType<typeof subscriptionsOf>, sub: Subscription, events: string[], withWatermarks: boolean): string {
  const prev = withWatermarks ? `<t:PreviousWatermark>${esc(table.watermark(sub))}</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>` : '';
  return `<m:Notification><t:SubscriptionId>${esc(sub.id)}</t:SubscriptionId>${prev}${events.join('')}</m:Notification>`;
}

export const getEvents: Operation = async (call, op) => {
  const table = subscriptionsOf(call.ctx);
  const sub = table.get(childText(op, 'SubscriptionId') ?? '', call.user.id);
  if (!sub || sub.streaming) throw new EwsError('ErrorSubscriptionNotFound', 'The specified subscription was not found.');
  await table.settled(sub);
  const prev = table.watermark(sub);
  const events = sub.queue.splice(0);
  const body = events.length ? events : [`<t:StatusEvent><t:Watermark>${esc(prev)}</t:Watermark></t:StatusEvent>`];
  return responseMessages([okMessage('GetEvents',
    `<m:Notification><t:SubscriptionId>${esc(sub.id)}</t:SubscriptionId><t:PreviousWatermark>${esc(prev)}</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>${body.join('')}</m:Notification>`)]);
};

export const unsubscribe: Operation = async (call, op) => {
  const table = subscriptionsOf(call.ctx);
  const sub = table.get(childText(op, 'SubscriptionId') ?? '', call.user.id);
  if (!sub) throw new EwsError('ErrorSubscriptionNotFound', 'The specified subscription was not found.');
  table.remove(sub);
  return responseMessages([okMessage('Unsubscribe')]);
};

export const getStreamingEvents: Operation = async (call, op) => {
  const stream = call.stream;
  if (!stream) throw new EwsError('ErrorInvalidRequest', 'GetStreamingEvents needs a streaming connection');
  const table = subscriptionsOf(call.ctx);
  const ids = children(child(op, 'SubscriptionIds'), 'SubscriptionId').map((e) => e.text.trim());
  const subs = ids.map((id) => table.get(id, call.user.id));
  if (!ids.length || subs.some((s) => !s || !s.streaming)) {
    const bad = ids.filter((_, i) => !subs[i] || !subs[i]!.streaming);
    return responseMessages([errorMessage('GetStreamingEvents', 'ErrorSubscriptionNotFound', 'The specified subscription was not found.')
      .replace('</m:GetStreamingEventsResponseMessage>', `<m:ErrorSubscriptionIds>${bad.map((b) => `<m:SubscriptionId>${esc(b)}</m:SubscriptionId>`).join('')}</m:ErrorSubscriptionIds></m:GetStreamingEventsResponseMessage>`)]);
  }
  const minutes = Math.max(1, Math.min(30, Number(childText(op, 'ConnectionTimeout') ?? 30) || 30));
  const send = (inner: string) => stream.write(envelope(responseElement('GetStreamingEvents', responseMessages([okMessage('GetStreamingEvents', inner)]))));
  return call.session.withObject('objtNotify', async () => {
    let wake: () => void = () => undefined;
    const waiter = () => wake();
    for (const s of subs) s!.waiters.add(waiter);
    const ended = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, minutes * 60_000);
      timer.unref();
      void stream.closed.then(() => { clearTimeout(timer); resolve(); });
      call.session.onEnd(() => { clearTimeout(timer); resolve(); });
    });
    const keepalive = setInterval(() => send('<m:ConnectionStatus>OK</m:ConnectionStatus>'), KEEPALIVE_MS);
    keepalive.unref();
    try {
      send('<m:ConnectionStatus>OK</m:ConnectionStatus>');
      for (;;) {
        const ready = subs.filter((s) => s!.queue.length);
        if (ready.length) {
          send(`<m:Notifications>${ready.map((s) => notification(table, s!, s!.queue.splice(0), false)).join('')}</m:Notifications>`);
          for (const s of subs) s!.lastUse = Date.now();
          continue;
        }
        if (stream.isClosed() || !call.session.isOpen || subs.some((s) => s!.removed)) break;
        const next = new Promise<'event'>((resolve) => { wake = () => resolve('event'); });
        const why = await Promise.race([next, ended.then(() => 'end' as const)]);
        if (why === 'end') break;
      }
    } finally {
      clearInterval(keepalive);
      for (const s of subs) {
        s!.waiters.delete(waiter);
        s!.lastUse = Date.now();
      }
    }
    return responseMessages([okMessage('GetStreamingEvents', '<m:ConnectionStatus>Closed</m:ConnectionStatus>')]);
  });
};
