import { ImapFlow } from 'imapflow';
import type { SourceFolder, SourceMessage } from './source.js';

/**
 * A live IMAP server as an import source (`mailwarden import imap`): every selectable folder,
 * read-only (EXAMINE: nothing changes on the source, not even \Recent or \Seen), in UID ranges
 * so that a large folder never sits in memory, with each message's flags and INTERNALDATE.
 */
const RANGE = 500;

export interface ImapSourceOptions {
  url: string;
  user: string;
  password: string;
  /** Accept any certificate (a self-signed source): say so explicitly, it is never the default. */
  insecure?: boolean;
  ca?: string;
}

export async function openImapSource(opts: ImapSourceOptions): Promise<{ folders: SourceFolder[]; close(): Promise<void> }> {
  const url = new URL(opts.url);
  if (url.protocol !== 'imaps:' && url.protocol !== 'imap:') throw new Error(`${opts.url}: use imaps://HOST[:PORT] (or imap:// for STARTTLS)`);
  const secure = url.protocol === 'imaps:';
  const client = new ImapFlow({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || (secure ? 993 : 143)),
    secure,
    // imap:// still requires STARTTLS: passwords are not sent in the clear
    doSTARTTLS: secure ? undefined : true,
    auth: { user: opts.user, pass: opts.password },
    tls: { rejectUnauthorized: !opts.insecure, ...(opts.ca ? { ca: [opts.ca] } : {}) },
    logger: false,
  });
  await client.connect();
  const listed = await client.list();
  const folders: SourceFolder[] = listed
    .filter((e) => !e.flags.has('\\Noselect') && !e.flags.has('\\NonExistent'))
    .map((e) => {
      const name = e.path.toUpperCase() === 'INBOX' ? 'INBOX' : e.path.split(e.delimiter || '/').join('/');
      return {
        name,
        subscribed: e.subscribed ?? false,
        async *messages(): AsyncIterable<SourceMessage> {
          const box = await client.mailboxOpen(e.path, { readOnly: true });
          if (!box.exists) return;
          const uids = (await client.search({ all: true }, { uid: true })) || [];
          uids.sort((a, b) => a - b);
          for (let i = 0; i < uids.length; i += RANGE) {
            const range = uids.slice(i, i + RANGE).join(',');
            const batch: SourceMessage[] = [];
            for await (const m of client.fetch(range, { uid: true, flags: true, internalDate: true, source: true }, { uid: true })) {
              if (!m.source) continue;
              batch.push({
                raw: m.source,
                flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent'),
                internalDate: m.internalDate instanceof Date ? m.internalDate : new Date(m.internalDate ?? Date.now()),
              });
            }
            yield* batch;
          }
        },
      };
    });
  folders.sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name.localeCompare(b.name)));
  return { folders, close: async () => { await client.logout().catch(() => client.close()); } };
}
