/**
 * Reading a message in DATA without holding it in memory while it arrives. A message may be as
 * large as SmtpSettings.MaxMessageSize (35 MB) and a listener holds up to SmtpSettings.MaxConnections
 * of them at once: kept in memory, slow senders alone could make the server hold limit × connections
 * (35 GB). So the first `memoryLimit` bytes (the connection input budget) are kept in memory and
 * the rest is spooled to a file in the data folder (`spool/smtp-data/`), written with backpressure
 * (the client is not read faster than the disk takes it). The whole message is read back only
 * once the final dot has arrived, for the delivery that needs it as one buffer.
 */
import { createWriteStream, mkdirSync, readdirSync, rmSync, type WriteStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { SMTPServerDataStream } from 'smtp-server';

export const spoolDir = (dataDir: string): string => join(dataDir, 'spool', 'smtp-data');

const prepared = new Set<string>();

/**
 * Makes the spool folder and removes what a process that died mid-DATA left in it: once per
 * process (the server holds the data folder's lock), so a listener started later never removes
 * the files of messages another listener is receiving.
 */
export function prepareSpool(dir: string): void {
  if (prepared.has(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of readdirSync(dir)) if (f.endsWith('.part')) rmSync(join(dir, f), { force: true });
  prepared.add(dir);
}

/**
 * The message of a DATA stream, or null when it went over the size limit (nothing of it is kept
 * from that point on). Memory held while it arrives: at most `memoryLimit` plus the file stream's
 * own buffer.
 */
export function readMessage(stream: SMTPServerDataStream, dir: string, memoryLimit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let held = 0;
    let file: { path: string; out: WriteStream } | null = null;
    let failed: Error | null = null;
    // the file's removal, awaited before the answer: a refused message leaves nothing behind
    let removed: Promise<unknown> = Promise.resolve();
    const discard = () => {
      if (!file) return;
      file.out.destroy();
      removed = rm(file.path, { force: true }).catch(() => undefined);
      file = null;
    };
    stream.on('data', (c: Buffer) => {
      if (stream.sizeExceeded || failed) {
        discard();
        chunks.length = 0;
        return;
      }
      if (!file && held + c.length <= memoryLimit) {
        chunks.push(c);
        held += c.length;
        return;
      }
      if (!file) {
        const path = join(dir, `${randomUUID()}.part`);
        const out = createWriteStream(path, { mode: 0o600 });
        out.on('error', (err) => {
          failed = err;
          stream.resume();
        });
        for (const held of chunks) out.write(held);
        chunks.length = 0;
        file = { path, out };
      }
      if (!file.out.write(c)) {
        stream.pause();
        file.out.once('drain', () => stream.resume());
      }
    });
    stream.once('error', (err) => {
      discard();
      void removed.then(() => reject(err));
    });
    stream.once('end', () => {
      if (failed || stream.sizeExceeded) {
        discard();
        const why = failed;
        return void removed.then(() => (why ? reject(why) : resolve(null)));
      }
      if (!file) return resolve(Buffer.concat(chunks));
      const { path, out } = file;
      out.end(() => {
        // removed before the message is handed on: the spool holds only messages still arriving
        readFile(path).then(
          (message) => rm(path, { force: true }).then(() => resolve(message), () => resolve(message)),
          (err: Error) => rm(path, { force: true }).finally(() => reject(err)),
        );
      });
    });
  });
}
