import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { SourceFolder, SourceMessage } from './source.js';

/**
 * An mbox file (mboxrd and mboxo, as mutt, Thunderbird, Apple Mail and Postfix's local delivery
 * write them): messages start at a "From " line; ">From " lines (any number of ">") lose one ">".
 * Flags from the headers MUAs keep: Status (R seen), X-Status (A answered, F flagged, T draft,
 * D deleted) and Thunderbird's X-Mozilla-Status bits. The internal date is the "From " line's
 * date (when the message arrived), else the Date header, else now. Read as a stream: a
 * mailbox of any size takes the memory of one message.
 */
const FROM_LINE = /^From \S*\s+(.*)$/;

export function mboxFlags(headers: string): string[] {
  const flags = new Set<string>();
  const header = (name: string) => new RegExp(`^${name}:[ \\t]*([^\\r\\n]*)`, 'im').exec(headers)?.[1].trim() ?? '';
  if (header('Status').includes('R')) flags.add('\\Seen');
  const x = header('X-Status');
  if (x.includes('A')) flags.add('\\Answered');
  if (x.includes('F')) flags.add('\\Flagged');
  if (x.includes('T')) flags.add('\\Draft');
  if (x.includes('D')) flags.add('\\Deleted');
  const moz = header('X-Mozilla-Status');
  if (/^[0-9a-f]{4}$/i.test(moz)) {
    const bits = parseInt(moz, 16);
    if (bits & 0x0001) flags.add('\\Seen');
    if (bits & 0x0002) flags.add('\\Answered');
    if (bits & 0x0004) flags.add('\\Flagged');
    if (bits & 0x0008) flags.add('\\Deleted');
    if (bits & 0x1000) flags.add('$Forwarded');
  }
  return [...flags];
}

function dateOf(fromLine: string, headers: string): Date {
  const fromDate = FROM_LINE.exec(fromLine)?.[1];
  for (const text of [fromDate, /^Date:[ \t]*([^\r\n]*)/im.exec(headers)?.[1]]) {
    if (!text) continue;
    const d = new Date(text.replace(/\s+remote from .*$/, ''));
    if (!Number.isNaN(d.getTime())) return d;
  }
  return new Date();
}

function finish(fromLine: string, lines: Buffer[]): SourceMessage {
  // the blank line before the next "From " belongs to the mbox, not to the message
  while (lines.length > 0 && lines[lines.length - 1].length === 0) lines.pop();
  const raw = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')]));
  const end = raw.indexOf('\r\n\r\n');
  const headers = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  return { raw, flags: mboxFlags(headers), internalDate: dateOf(fromLine, headers) };
}

/** The messages of one mbox file, streamed; lines are stored with CRLF as IMAP serves them. */
export async function* readMboxMessages(file: string): AsyncGenerator<SourceMessage> {
  let fromLine: string | null = null;
  let lines: Buffer[] = [];
  let previousBlank = true;
  let rest = Buffer.alloc(0);
  const onLine = function* (line: Buffer): Generator<SourceMessage> {
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (previousBlank && line.subarray(0, 5).toString('latin1') === 'From ') {
      if (fromLine !== null) yield finish(fromLine, lines);
      fromLine = line.toString('latin1');
      lines = [];
    } else if (fromLine !== null) {
      // mboxrd: ">From ", ">>From "… lose one ">"
      lines.push(/^>+From /.test(line.subarray(0, 64).toString('latin1')) ? line.subarray(1) : line);
    }
    previousBlank = line.length === 0;
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, start)) {
      yield* onLine(data.subarray(start, nl));
      start = nl + 1;
    }
    rest = Buffer.from(data.subarray(start));
  }
  if (rest.length) yield* onLine(rest);
  if (fromLine !== null) yield finish(fromLine, lines);
}

/** One mbox file as one folder, named after the file (an "inbox" file or "mbox" is INBOX). */
export function readMbox(file: string, folderName?: string): SourceFolder {
  const base = basename(file).replace(/\.mbox$/i, '');
  const name = folderName ?? (/^(inbox|mbox)$/i.test(base) ? 'INBOX' : base);
  return { name, subscribed: true, messages: () => readMboxMessages(file) };
}
