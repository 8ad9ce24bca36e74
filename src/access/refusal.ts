/** The layer of the logon pipeline that refused (SPEC §3.5 plus the password and the brute-force guard). */
export type RefusalKind = 'auth' | 'lockout' | 'protocol' | 'throttling' | 'store';

/**
 * Why a logon was refused, as data: every front end turns it into its protocol's answer
 * through answers.ts, and `access explain` names the same fields.
 */
export interface LogonRefusal {
  kind: RefusalKind;
  /** The setting (or guard rule) whose limit refused, e.g. "Maximum Allowed Service Sessions Per User". */
  setting: string;
  limit: number;
  count: number;
  /** Who or what is counted: a user's address, a client address, "the server". */
  scope: string;
  /** What is counted, in plain words: "service sessions", "connections", "failed logons". */
  counted: string;
  /** The client's address, normalised (client-address.ts). */
  clientAddress: string;
  /** When trying again may work (lockouts). */
  retryAfterSeconds?: number;
}

/** The guard's rule as a setting name: the auth and lockout refusals count failures against it. */
export const LOCKOUT_RULE = 'Failed Logons Before Lockout';

/** The account guard's rule (account-guard.ts): failures per account before new addresses are slowed. */
export const ACCOUNT_RULE = 'Failed Logons Per Account Before Slowdown';
