/**
 * The store's domain rules, as pure functions every backend uses (SQLite and PostgreSQL),
 * so that no backend carries a copy: what a valid address, password or folder name is, how an
 * alias is made, the default folders and the Exchange DN, the UIDVALIDITY policy, what renaming
 * a folder (INBOX included) does, and the flag algebra. Backends keep only storage.
 */
import { StoreError } from './errors.js';
import type { FlagOperation, SpecialUse } from './types.js';

// ------------------------------------------------------------------ directory

export const DEFAULT_DATABASE = 'Mailbox Database 01';
export const DEFAULT_ORGANISATION = 'First Organization';

const ADDRESS_RE = /^[^\s@<>()",;:\\[\]]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$/;

/** An address as stored: trimmed, lower-cased. `invalid` when it is not an e-mail address. */
export function normaliseAddress(address: string): string {
  const a = address.trim().toLowerCase();
  if (!ADDRESS_RE.test(a) || a.length > 254) throw new StoreError('invalid', `"${address}" is not a valid e-mail address`);
  return a;
}

/** A domain as stored addresses have it: lower-cased, without the root's trailing dot. */
export function normaliseDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/** `invalid` unless the password has 1 to 1024 characters. */
export function checkPassword(password: string): void {
  if (password.length < 1 || password.length > 1024) throw new StoreError('invalid', 'a password needs 1 to 1024 characters');
}

/** A mailbox database name as stored (trimmed). `invalid` unless it has 1 to 64 printable characters. */
export function normaliseDatabaseName(name: string): string {
  const clean = name.trim();
  if (!clean || clean.length > 64 || /[\0\r\n]/.test(clean)) throw new StoreError('invalid', 'a database name needs 1 to 64 printable characters');
  return clean;
}

/**
 * The alias (Exchange's mailNickname) of a new mailbox: the address's local part without
 * characters an alias may not hold, then "2", "3", ... after it until `taken` says no.
 */
export function chooseAlias(address: string, taken: (alias: string) => boolean): string {
  const base = address.split('@')[0]!.replace(/[^a-z0-9._-]/gi, '') || 'user';
  let alias = base;
  for (let i = 2; taken(alias); i++) alias = `${base}${i}`;
  return alias;
}

/** The display name of a new mailbox: the one given, or its alias. */
export function displayNameFor(given: string | undefined, alias: string): string {
  return given?.trim() || alias;
}

/** Legacy Exchange DN: /o=<Org>/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=<alias> */
export function legacyDn(org: string, alias: string): string {
  return `/o=${org}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=${alias}`;
}

/**
 * What a password is checked against when the user does not exist: a valid hash of a random
 * password, so that verifying costs the same as a real check and timing does not tell which
 * addresses exist.
 */
export const DUMMY_PASSWORD_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

// ------------------------------------------------------------------ folders

/** Folders every mailbox has (made with it, subscribed), with the names Exchange users know. */
export const DEFAULT_FOLDERS: ReadonlyArray<readonly [string, SpecialUse]> = [
  ['INBOX', '\\Inbox'],
  ['Drafts', '\\Drafts'],
  ['Sent Items', '\\Sent'],
  ['Deleted Items', '\\Trash'],
  ['Junk Email', '\\Junk'],
];

/** The default name of a special-use folder (getSpecialFolder makes it when a mailbox lacks it). */
export function defaultFolderName(use: SpecialUse): string {
  return DEFAULT_FOLDERS.find(([, u]) => u === use)![0];
}

/** `invalid` for an empty or over-long name, NUL/CR/LF, the LIST wildcards, or an empty hierarchy level ("/" is the separator). */
export function validateFolderName(name: string): void {
  if (!name || name.length > 255 || /[\0\r\n*%]/.test(name) || name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    throw new StoreError('invalid', `"${name}" is not a valid folder name`);
  }
}

/** A folder name as stored: "INBOX" in any case is INBOX (RFC 3501 5.1); other names are case-sensitive. */
export function canonicalFolderName(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** `invalid` for folders that may not be deleted (INBOX). */
export function checkDeletable(name: string): void {
  if (name === 'INBOX') throw new StoreError('invalid', 'INBOX cannot be deleted');
}

/**
 * Renaming INBOX (RFC 3501 6.3.5) makes a new folder, moves INBOX's messages there (new UIDs
 * from 1, MODSEQs kept, none \Recent) and leaves INBOX empty — expunged for sessions that have
 * it selected. Any other folder is renamed in place.
 */
export function renameMovesMessages(name: string): boolean {
  return name === 'INBOX';
}

/**
 * The renames a folder rename makes: the folder, and each of its children ("a/b" with "a")
 * under the new name. Subscriptions follow each of them: a subscription left behind on an old
 * name would list as \NonExistent. `names`: the user's folder names.
 */
export function renamePlan(from: string, to: string, names: Iterable<string>): Array<[from: string, to: string]> {
  const prefix = from + '/';
  const plan: Array<[string, string]> = [[from, to]];
  for (const n of names) if (n.startsWith(prefix)) plan.push([n, to + '/' + n.slice(prefix.length)]);
  return plan;
}

/**
 * The UIDVALIDITY of a new folder: strictly increasing across the store (never reused, so a
 * re-created folder never looks like the old one to a client's cache), near the clock's seconds,
 * a non-zero 32-bit number.
 */
export function nextUidValidity(last: number, nowMs: number): number {
  return Math.max(Math.floor(nowMs / 1000), last + 1) % 0xffffffff || 1;
}

// ------------------------------------------------------------------ flags

/** Flags as given, each once, in first-seen order. */
export function uniqueFlags(flags: Iterable<string>): string[] {
  return [...new Set(flags)];
}

/** A message's flags after STORE: set replaces, add unites, remove drops (case-insensitively). */
export function applyFlags(current: readonly string[], op: FlagOperation, flags: readonly string[]): string[] {
  if (op === 'set') return uniqueFlags(flags);
  if (op === 'add') return uniqueFlags([...current, ...flags]);
  const drop = new Set(flags.map((f) => f.toLowerCase()));
  return current.filter((f) => !drop.has(f.toLowerCase()));
}

/** Whether two flag lists hold the same flags (in any order): no change, no new MODSEQ. */
export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((f) => s.has(f));
}
