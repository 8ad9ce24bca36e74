/**
 * What an import reads from another server's mail, whatever the format: folders of messages
 * with their flags and internal dates. Readers (maildir.ts, mbox.ts, imap.ts) produce it lazily,
 * so that a 10 GB mailbox is never in memory at once.
 */
export interface SourceMessage {
  raw: Buffer;
  flags: string[];
  internalDate: Date;
}

export interface SourceFolder {
  /** The folder's name in the source, with "/" as the hierarchy separator. */
  name: string;
  /** Subscribed in the source (subscriptions follow the mail). */
  subscribed: boolean;
  /** How many messages it holds, when the reader knows beforehand (progress). */
  count?: number;
  messages(): AsyncIterable<SourceMessage>;
}

/** Folder names other servers and clients give the special-use folders, lower-cased. */
export const WELL_KNOWN_NAMES: Record<string, '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk'> = {
  sent: '\\Sent', 'sent items': '\\Sent', 'sent messages': '\\Sent', 'sent mail': '\\Sent',
  drafts: '\\Drafts',
  trash: '\\Trash', 'deleted items': '\\Trash', 'deleted messages': '\\Trash',
  junk: '\\Junk', spam: '\\Junk', 'junk email': '\\Junk', 'junk e-mail': '\\Junk',
};
