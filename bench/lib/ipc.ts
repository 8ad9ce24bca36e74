import type { ChildProcess } from 'node:child_process';

/**
 * One request to a benchmark's child over its IPC channel: sends `request` (which carries a
 * sequence number of the caller's) and resolves with the first reply whose `replySeqKey` field is
 * that number, so that several kinds of request can share the channel.
 */
export function askChild<R, Q extends { seq: number } = { seq: number }>(child: ChildProcess, request: Q, replySeqKey: string): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (m?.[replySeqKey] !== request.seq) return;
      child.off('message', onMessage);
      resolve(m as R);
    };
    child.on('message', onMessage);
    child.send(request, (err) => err && reject(err));
  });
}
