import { readdir, readFile, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceFolder, SourceMessage } from './source.js';

/**
 * A Maildir++ tree as Dovecot (and Courier, and most IMAP servers that use Maildir) leaves it:
 * the root's cur/ new/ is INBOX, `.Name` folders below it with "." as the hierarchy separator
 * (`.Archive.2024` is Archive/2024), `subscriptions` lists the subscribed names.
 *
 * Flags are the file name's info part (`…:2,FRS`): D draft, F flagged, P passed (forwarded),
 * R replied, S seen, T trashed (P, passed, as Dovecot: not shown); lower-case letters are keywords, numbered by Dovecot's
 * `dovecot-keywords` file ("0 $Label1": a = 0, b = 1, …). Mail in new/ has not been seen by a
 * client. The internal date is the file's modification time, as Dovecot keeps it.
 */
// P (passed) is left out on purpose: Dovecot keeps it in the name but shows it to no IMAP
// client, and an import must give the user what their clients saw.
const FLAG_LETTERS: Record<string, string> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' };

function keywordsOf(dir: string): string[] {
  const file = join(dir, 'dovecot-keywords');
  if (!existsSync(file)) return [];
  const names: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\d+) (\S+)$/.exec(line.trim());
    if (m) names[Number(m[1])] = m[2];
  }
  return names;
}

/** Flags from a Maildir file name; keywords by letter through the folder's dovecot-keywords. */
export function maildirFlags(fileName: string, keywords: string[]): string[] {
  const info = /:2,([A-Za-z]*)$/.exec(fileName)?.[1] ?? '';
  const flags: string[] = [];
  for (const ch of info) {
    if (FLAG_LETTERS[ch]) flags.push(FLAG_LETTERS[ch]);
    else if (ch >= 'a' && ch <= 'z' && keywords[ch.charCodeAt(0) - 97]) flags.push(keywords[ch.charCodeAt(0) - 97]);
  }
  return [...new Set(flags)];
}

/**
 * Line ends as IMAP serves them (CRLF). Dovecot writes Maildir files with bare LF by default
 * (mail_save_crlf = no) and adds the CR when it serves them: the import does the same, so the
 * bytes a client reads are the bytes it read from the old server.
 */
export function withCrlf(raw: Buffer): Buffer {
  let bare = 0;
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) if (i === 0 || raw[i - 1] !== 0x0d) bare++;
  if (bare === 0) return raw;
  const out = Buffer.allocUnsafe(raw.length + bare);
  let o = 0;
  let start = 0;
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    if (i > 0 && raw[i - 1] === 0x0d) continue;
    o += raw.copy(out, o, start, i);
    out[o++] = 0x0d;
    out[o++] = 0x0a;
    start = i + 1;
  }
  o += raw.copy(out, o, start);
  return out.subarray(0, o);
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

function folderOf(dir: string, name: string, subscribed: Set<string>): SourceFolder {
  return {
    name,
    subscribed: name === 'INBOX' || subscribed.has(name),
    async *messages(): AsyncIterable<SourceMessage> {
      const keywords = keywordsOf(dir);
      for (const sub of ['cur', 'new'] as const) {
        for (const file of await listFiles(join(dir, sub))) {
          const path = join(dir, sub, file);
          const [raw, st] = await Promise.all([readFile(path), stat(path)]);
          yield { raw: withCrlf(raw), flags: sub === 'new' ? [] : maildirFlags(file, keywords), internalDate: st.mtime };
        }
      }
    },
  };
}

/** Every folder of a Maildir++ root, INBOX first. Throws when `root` is not a Maildir. */
export async function readMaildir(root: string): Promise<SourceFolder[]> {
  if (!existsSync(join(root, 'cur')) && !existsSync(join(root, 'new'))) {
    throw new Error(`${root} is not a Maildir (it has no cur/ or new/ folder)`);
  }
  const subscribed = new Set(
    existsSync(join(root, 'subscriptions'))
      ? readFileSync(join(root, 'subscriptions'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !/^V\t/.test(l)).map((l) => l.replace(/\./g, '/'))
      : [],
  );
  const folders = [folderOf(root, 'INBOX', subscribed)];
  for (const entry of (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name.startsWith('.') && e.name.length > 1).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = join(root, entry.name);
    if (!existsSync(join(dir, 'cur')) && !existsSync(join(dir, 'new'))) continue;
    // Maildir++ names are modified UTF-7 like IMAP's; "&" sequences are decoded by the importer's caller if needed
    folders.push(folderOf(dir, entry.name.slice(1).replace(/\./g, '/'), subscribed));
  }
  return folders;
}
