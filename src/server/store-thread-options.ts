/**
 * The store's options that are functions, for the store thread (store/sqlite/threaded/), which
 * imports this module by the URL the composition root gives it: functions cannot be posted to a
 * thread, and the store layer imports nothing above it.
 */
import { mailboxQuotaLimit } from '../settings/resolve.js';
import type { StoreOptions } from '../store/store.js';

export const storeOptions: StoreOptions = { quotaLimit: mailboxQuotaLimit };
