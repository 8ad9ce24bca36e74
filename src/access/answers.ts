/**
 * Every answer a client gets for a refused logon, a store limit or a store error, per front
 * end, in one table (Dovecot's imap_get_error_string is the model: one mapping from an error
 * kind to the protocol's code and text). Answers are data — an IMAP response code is a field,
 * never spliced into the text — and the front ends only put them on the wire.
 *
 * Decisions (issue 12): a logon the server refuses for a reason other than the credentials
 * answers IMAP `NO [UNAVAILABLE]` (RFC 5530: a temporary failure on the server's side, not the
 * credentials), which Thunderbird shows as an alert instead of asking for a new password (README,
 * "What a client shows at the limit"; test/clients/at-the-limit.test.ts); per-session object limits stay
 * `NO [LIMIT]`; POP3 uses RFC 3206 `[IN-USE]` for per-user limits and `[SYS/TEMP]` otherwise.
 */
import { TooManyObjectsOpened } from '../governor/errors.js';
import type { StoreErrorKind } from '../store/errors.js';
import { ACCOUNT_RULE, type LogonRefusal, type RefusalKind } from './refusal.js';

export interface ImapAnswer {
  status: 'NO' | 'BAD';
  /** RFC 5530 response code without brackets. */
  code?: string;
  text: string;
}
export interface Pop3Answer {
  /** RFC 2449/3206 response code without brackets. */
  code?: string;
  text: string;
  /** Whether the server closes the connection after the answer. */
  close: boolean;
}
export interface SmtpAnswer {
  code: number;
  enhanced: string;
  text: string;
}
export interface HttpAnswer {
  status: number;
  text: string;
  /** Web mail: the error page ("problem", with details) or a one-line message on the sign-in form. */
  page: 'problem' | 'message';
  /** The one-word reason the sign-in form keys on ('auth', 'locked'), or the exception type of the error page. */
  code: string;
  retryAfterSeconds?: number;
  details?: { limitName: string; limit: number; count: number; objectType?: string; user?: string };
}

export interface Answers<T> {
  imap: (t: T) => ImapAnswer;
  pop3: (t: T) => Pop3Answer;
  smtp: (t: T) => SmtpAnswer;
  http: (t: T) => HttpAnswer;
}

/** The reason line of a refusal, the same words on every front end (SPEC §3.5 texts). */
export function refusalReason(r: LogonRefusal): string {
  switch (r.kind) {
    case 'auth':
      return 'Authentication failed';
    case 'lockout':
      if (r.setting === ACCOUNT_RULE) return `Logons to ${r.scope} from new addresses are slowed after ${r.count} failed attempts; try again in ${r.retryAfterSeconds ?? 0} seconds`;
      return `Logons from ${r.scope} are refused for ${r.retryAfterSeconds ?? 0} more seconds after ${r.count} failed attempts`;
    case 'protocol':
    case 'throttling':
      return `${r.count} of ${r.limit} ${r.counted} in use for ${r.scope} (${r.setting})`;
    case 'store':
      return `Server Unavailable. 15: ${r.count} of ${r.limit} ${r.counted} in use for ${r.scope}`;
  }
}

/** Per-user limits are "in use" (RFC 3206 IN-USE); server-wide or per-address capacity is temporary. */
const perUser = (r: LogonRefusal) => r.kind === 'store' || r.setting.endsWith('.MaxConnectionsPerUser');

const details = (r: LogonRefusal) => ({ limitName: r.setting, limit: r.limit, count: r.count, user: r.scope });

/** Refused logons, by the layer that refused. */
export const LOGON_ANSWERS: Record<RefusalKind, Answers<LogonRefusal>> = {
  auth: {
    imap: () => ({ status: 'NO', code: 'AUTHENTICATIONFAILED', text: 'Authentication failed' }),
    pop3: () => ({ code: 'AUTH', text: 'Authentication failed', close: false }),
    smtp: () => ({ code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' }),
    http: () => ({ status: 401, page: 'message', code: 'auth', text: 'The user name or password you entered isn\'t correct.' }),
  },
  lockout: {
    imap: (r) => ({ status: 'NO', code: 'UNAVAILABLE', text: refusalReason(r) }),
    pop3: (r) => ({ code: 'SYS/TEMP', text: refusalReason(r), close: true }),
    smtp: (r) => ({ code: 454, enhanced: '4.7.0', text: r.setting === ACCOUNT_RULE ? 'Too many failed logons for this account; try again later' : 'Too many failed logons from your address; try again later' }),
    http: (r) => ({
      status: 429, page: 'message', code: 'locked', retryAfterSeconds: r.retryAfterSeconds,
      text: r.setting === ACCOUNT_RULE
        ? `Too many failed sign-ins for ${r.scope}; try again in ${r.retryAfterSeconds ?? 0} seconds.`
        : `Too many failed sign-ins from ${r.scope}; try again in ${r.retryAfterSeconds ?? 0} seconds.`,
    }),
  },
  protocol: {
    imap: (r) => ({ status: 'NO', code: 'UNAVAILABLE', text: refusalReason(r) }),
    pop3: (r) => ({ code: perUser(r) ? 'IN-USE' : 'SYS/TEMP', text: refusalReason(r), close: true }),
    smtp: (r) => ({ code: 454, enhanced: '4.7.0', text: refusalReason(r) }),
    http: (r) => ({ status: 503, page: 'problem', code: 'ConnectionLimitExceededException', text: refusalReason(r), retryAfterSeconds: 60, details: details(r) }),
  },
  throttling: {
    imap: (r) => ({ status: 'NO', code: 'UNAVAILABLE', text: refusalReason(r) }),
    pop3: (r) => ({ code: 'SYS/TEMP', text: refusalReason(r), close: true }),
    smtp: (r) => ({ code: 454, enhanced: '4.7.0', text: refusalReason(r) }),
    http: (r) => ({
      status: 503, page: 'problem', code: 'ThrottlingPolicyLimitExceededException', retryAfterSeconds: 60, details: details(r),
      text: `${r.setting}: ${r.count} of ${r.limit} concurrent ${r.counted} in use for ${r.scope}. Sign out elsewhere or try again later.`,
    }),
  },
  store: {
    imap: (r) => ({ status: 'NO', code: 'UNAVAILABLE', text: refusalReason(r) }),
    pop3: (r) => ({ code: 'IN-USE', text: refusalReason(r), close: true }),
    smtp: (r) => ({ code: 454, enhanced: '4.7.0', text: refusalReason(r) }),
    http: (r) => ({
      status: 503, page: 'problem', code: TooManyObjectsOpened.exceptionType, text: refusalReason(r), retryAfterSeconds: 30,
      details: { ...details(r), objectType: 'session' },
    }),
  },
};

/** A per-session object limit (MaxObjsPerMapiSession.*): that one operation fails, the session stays. */
export const OBJECT_LIMIT_ANSWERS: Answers<TooManyObjectsOpened> = {
  imap: (e) => ({ status: 'NO', code: 'LIMIT', text: e.clientText }),
  pop3: (e) => ({ code: 'SYS/TEMP', text: e.clientText, close: false }),
  smtp: (e) => ({ code: 452, enhanced: '4.3.1', text: e.clientText }),
  http: (e) => ({
    status: 429, page: 'problem', code: TooManyObjectsOpened.exceptionType, text: e.clientText, retryAfterSeconds: 30,
    details: { limitName: e.limitName, limit: e.limit, count: e.count, objectType: e.objectType, user: e.user },
  }),
};

/** The answer to the governor's refusal wherever it comes from: a session limit is a logon refusal. */
export function storeLimitRefusal(e: TooManyObjectsOpened, clientAddress: string): LogonRefusal {
  return { kind: 'store', setting: e.limitName, limit: e.limit, count: e.count, scope: e.user, counted: e.counted, clientAddress };
}

/** Store errors by kind: IMAP code, POP3 code, SMTP reply, HTTP status. */
export const STORE_ERROR_ANSWERS: Record<StoreErrorKind, { imap: string; pop3: string; smtp: [number, string]; http: number }> = {
  'not-found': { imap: 'NONEXISTENT', pop3: 'SYS/PERM', smtp: [550, '5.1.1'], http: 404 },
  exists: { imap: 'ALREADYEXISTS', pop3: 'SYS/PERM', smtp: [550, '5.7.1'], http: 409 },
  invalid: { imap: 'CANNOT', pop3: 'SYS/PERM', smtp: [554, '5.6.0'], http: 400 },
  'over-quota': { imap: 'OVERQUOTA', pop3: 'SYS/TEMP', smtp: [452, '4.2.2'], http: 507 },
  'not-a-mailwarden-database': { imap: 'SERVERBUG', pop3: 'SYS/PERM', smtp: [451, '4.3.0'], http: 500 },
  corrupt: { imap: 'SERVERBUG', pop3: 'SYS/PERM', smtp: [451, '4.3.0'], http: 500 },
  'read-only': { imap: 'UNAVAILABLE', pop3: 'SYS/TEMP', smtp: [451, '4.3.0'], http: 500 },
  'in-use': { imap: 'INUSE', pop3: 'IN-USE', smtp: [451, '4.3.0'], http: 500 },
  unavailable: { imap: 'UNAVAILABLE', pop3: 'SYS/TEMP', smtp: [451, '4.3.0'], http: 503 },
  'cannot-calculate-changes': { imap: 'CANNOT', pop3: 'SYS/PERM', smtp: [451, '4.3.0'], http: 500 },
};


/**
 * Exchange Web Services (issue 17): a logon refusal is a SOAP fault whose detail carries the EWS
 * response code clients act on — exchangelib backs off on ErrorServerBusy (BackOffMilliseconds),
 * turns ErrorTooManyObjectsOpened into ErrorServerBusy for its caller, and lowers its connection
 * pool on ErrorExceededConnectionCount. A wrong password is HTTP 401 with the Basic challenge,
 * which is how clients know to ask for credentials. A lockout is not a wrong password (README,
 * "What a client shows at the limit"): it asks the client to come back after the lockout.
 */
export interface EwsAnswer {
  /** 401: the Basic challenge, no SOAP body; 500: a SOAP fault (as Exchange answers faults). */
  httpStatus: 401 | 500;
  responseCode: string;
  text: string;
  backOffMs?: number;
}

export const EWS_LOGON_ANSWERS: Record<RefusalKind, (r: LogonRefusal) => EwsAnswer> = {
  auth: () => ({ httpStatus: 401, responseCode: 'ErrorAccessDenied', text: 'Authentication failed' }),
  lockout: (r) => ({ httpStatus: 500, responseCode: 'ErrorServerBusy', text: refusalReason(r), backOffMs: (r.retryAfterSeconds ?? 60) * 1000 }),
  protocol: (r) => ({ httpStatus: 500, responseCode: 'ErrorExceededConnectionCount', text: refusalReason(r) }),
  throttling: (r) => ({ httpStatus: 500, responseCode: 'ErrorExceededConnectionCount', text: refusalReason(r) }),
  store: (r) => ({ httpStatus: 500, responseCode: 'ErrorTooManyObjectsOpened', text: refusalReason(r) }),
};

/** A per-session object limit inside an EWS request: that operation's response message fails. */
export const EWS_OBJECT_LIMIT_ANSWER = (e: TooManyObjectsOpened): { responseCode: string; text: string } =>
  ({ responseCode: 'ErrorTooManyObjectsOpened', text: e.clientText });

/**
 * Store errors as EWS response codes. `unavailable` (the store is busy: overload) is the one
 * answered as ErrorServerBusy with a back-off, so clients wait instead of failing.
 */
export const EWS_STORE_ERRORS: Record<StoreErrorKind, { responseCode: string; backOffMs?: number }> = {
  'not-found': { responseCode: 'ErrorItemNotFound' },
  exists: { responseCode: 'ErrorFolderExists' },
  invalid: { responseCode: 'ErrorInvalidRequest' },
  'over-quota': { responseCode: 'ErrorQuotaExceeded' },
  'not-a-mailwarden-database': { responseCode: 'ErrorInternalServerError' },
  corrupt: { responseCode: 'ErrorCorruptData' },
  'read-only': { responseCode: 'ErrorInternalServerTransientError' },
  'in-use': { responseCode: 'ErrorInternalServerTransientError' },
  unavailable: { responseCode: 'ErrorServerBusy', backOffMs: 2000 },
  'cannot-calculate-changes': { responseCode: 'ErrorInvalidSyncStateData' },
};

/** On-the-wire forms, for the few places that write a line themselves (BYE on accept, POP3 greeting). */
export const pop3Line = (a: Pop3Answer): string => `-ERR ${a.code ? `[${a.code}] ` : ''}${a.text}`;
export const smtpLine = (a: SmtpAnswer): string => `${a.code} ${a.enhanced} ${a.text}`;

/**
 * What an ActiveSync client gets for a refused logon (MS-ASHTTP 3.1.5.2, MS-ASCMD 2.2.2): a wrong
 * password is HTTP 401 (the phone asks for the password again); everything else is the server
 * being busy, never the password — HTTP 503 with Retry-After, which phones back off from, and,
 * where the command answers with a body, that body's Status 111 (ServerErrorRetryLater) with the
 * reason in the X-MS-ASThrottle-like header `X-Mailwarden-Refusal`.
 */
export interface EasRefusalAnswer {
  status: number;
  /** The command's Status in the WBXML body (null: no body). */
  easStatus: number | null;
  retryAfterSeconds?: number;
  text: string;
}

export function easLogonAnswer(r: LogonRefusal): EasRefusalAnswer {
  switch (r.kind) {
    case 'auth':
      return { status: 401, easStatus: null, text: 'Authentication failed' };
    case 'lockout':
      return { status: 503, easStatus: 111, retryAfterSeconds: r.retryAfterSeconds ?? 60, text: refusalReason(r) };
    case 'protocol':
    case 'throttling':
      return { status: 503, easStatus: 111, retryAfterSeconds: 60, text: refusalReason(r) };
    case 'store':
      return { status: 503, easStatus: 111, retryAfterSeconds: 30, text: refusalReason(r) };
  }
}
