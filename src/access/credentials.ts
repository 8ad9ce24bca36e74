import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { User } from '../store/types.js';
import type { LiveSettings } from '../settings/resolve.js';
import { systemClock, type Clock } from '../shared-state/clock.js';

export const CREDENTIAL_CACHE_TTL = 'Credential Cache TTL Seconds';
export const CREDENTIAL_CACHE_SIZE = 'Credential Cache Size';

interface Entry {
  userId: number;
  /** HMAC of (user id, credential stamp, password) under this process's key: never the password. */
  mac: Buffer;
  created: number;
}

/**
 * Verified credentials, so that a client logging on again and again does not pay scrypt each
 * time (Dovecot's auth_cache is the model). Only successes are remembered, as an HMAC under a
 * key made at start and never written anywhere; a wrong password always goes to the full
 * scrypt check, so the cache answers a guesser nothing faster. Each hit reads the store's
 * credential stamp (one indexed read, no hashing): a `user set-password` or `user remove` by
 * another process (the CLI) makes the entry useless at once. TTL and size are live settings;
 * TTL 0 turns the cache off.
 */
export class CredentialCache {
  private readonly key = randomBytes(32);
  /** By normalised identity; Map order is least recently used first. */
  private readonly entries = new Map<string, Entry>();
  /** Bumped by forget/clear, so that a check in flight does not store what was just forgotten. */
  private epoch = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly store: Pick<Store, 'verifyPassword' | 'credentialStamp'>,
    private readonly settings: Pick<LiveSettings, 'int'>,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The drop-in for Store.verifyPassword: the user when the password is right, null otherwise. */
  async verify(identity: string, password: string): Promise<User | null> {
    const ttlMs = this.settings.int(CREDENTIAL_CACHE_TTL) * 1000;
    if (ttlMs <= 0) {
      this.entries.clear();
      return this.store.verifyPassword(identity, password);
    }
    const key = normaliseIdentity(identity);
    const entry = this.entries.get(key);
    if (entry && this.clock.now() - entry.created >= ttlMs) this.entries.delete(key);
    else if (entry) {
      const current = await this.store.credentialStamp(identity);
      if (current && current.user.id === entry.userId && timingSafeEqual(entry.mac, this.mac(current.user.id, current.stamp, password))) {
        this.entries.delete(key); // move to the most recently used end
        this.entries.set(key, entry);
        this.hits++;
        return current.user;
      }
      // a wrong password, or one changed since (the stamp moved), or the user removed: scrypt decides
    }
    this.misses++;
    const epoch = this.epoch;
    // the stamp is read before the hash is checked: a password set in between leaves an entry
    // whose stamp is already old, so it can never match
    const before = await this.store.credentialStamp(identity);
    const user = await this.store.verifyPassword(identity, password);
    if (user && before && before.user.id === user.id && epoch === this.epoch) {
      this.remember(key, { userId: user.id, mac: this.mac(user.id, before.stamp, password), created: this.clock.now() });
    }
    return user;
  }

  /** Drops what is cached for an identity and for the user it named (lockout, an admin's action). */
  forget(identity: string): void {
    this.epoch++;
    const key = normaliseIdentity(identity);
    const entry = this.entries.get(key);
    this.entries.delete(key);
    if (entry) for (const [k, e] of this.entries) if (e.userId === entry.userId) this.entries.delete(k);
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    const max = this.settings.int(CREDENTIAL_CACHE_SIZE);
    for (const k of this.entries.keys()) {
      if (this.entries.size <= max) break;
      this.entries.delete(k);
    }
  }

  private mac(userId: number, stamp: string, password: string): Buffer {
    return createHmac('sha256', this.key).update(`${userId}\0${stamp}\0`).update(password, 'utf8').digest();
  }
}

/** As the store resolves identities (case-insensitive, surrounding blanks ignored). */
function normaliseIdentity(identity: string): string {
  return identity.trim().toLowerCase();
}
