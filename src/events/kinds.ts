import type { EventLevel, EventRecord } from '../store/types.js';

/**
 * Every event Mailwarden writes, declared once: ID, provider, level, task and a message
 * template whose {0}, {1}… are the data items in order. Log, CLI, XML export and metrics
 * all come from this table. Event 9646 keeps the original's provider, qualifiers, task and
 * keywords so that monitoring written for Exchange keeps matching. The header fields are the
 * ones each record of the kind carries (event-log.ts copies them over), so they are named once.
 */
export interface EventKind extends Pick<EventRecord, 'provider' | 'eventId' | 'qualifiers' | 'level' | 'task' | 'keywords'> {
  template: string;
  /** Names of the data items, in order (for --json output and documentation). */
  items: string[];
}

const CLASSIC = '0x80000000000000';

export const EVENT_KINDS = {
  storeObjectLimit: {
    provider: 'MSExchangeIS', eventId: 9646, qualifiers: 49158, level: 2, task: 6, keywords: CLASSIC,
    template: 'Mapi session "{0}" exceeded the maximum of {1} objects of type "{2}".',
    items: ['dn', 'limit', 'objectType'],
  },
  sessionKilled: {
    provider: 'MSExchangeIS', eventId: 9647, qualifiers: 16390, level: 4, task: 6, keywords: CLASSIC,
    template: 'Store session {0} ({1}) of "{2}" was ended by an administrator.',
    items: ['sessionId', 'kind', 'dn'],
  },
  sessionReclaimed: {
    provider: 'MSExchangeIS', eventId: 9648, qualifiers: 32774, level: 3, task: 6, keywords: CLASSIC,
    template: 'Store session {0} ({1}) of "{2}" from {3}, idle for {4} seconds, was ended to admit new session {5} from {6} at the session limit (Reclaim Idle Session Seconds = {7}).',
    items: ['sessionId', 'kind', 'dn', 'clientAddress', 'idleSeconds', 'newSessionId', 'newClientAddress', 'reclaimSeconds'],
  },
  popConnectionLimit: {
    provider: 'MSExchangePOP3', eventId: 1030, qualifiers: 32772, level: 3, task: 1, keywords: CLASSIC,
    template: 'POP3 connection from {4} refused by {0}: {1} of {2} in use for {3}.',
    items: ['setting', 'count', 'limit', 'scope', 'clientAddress'],
  },
  imapConnectionLimit: {
    provider: 'MSExchangeIMAP4', eventId: 1030, qualifiers: 32772, level: 3, task: 1, keywords: CLASSIC,
    template: 'IMAP4 connection from {4} refused by {0}: {1} of {2} in use for {3}.',
    items: ['setting', 'count', 'limit', 'scope', 'clientAddress'],
  },
  throttlingLimit: {
    provider: 'MSExchange Throttling', eventId: 2915, qualifiers: 32772, level: 3, task: 1, keywords: CLASSIC,
    template: 'User {0} exceeded {1} ({2} of {3} concurrent {4} connections); the new connection was refused.',
    items: ['user', 'setting', 'count', 'limit', 'protocol'],
  },
  authLockout: {
    provider: 'Mailwarden Auth', eventId: 4625, qualifiers: 0, level: 3, task: 12544, keywords: '0x8010000000000000',
    template: 'Logons from {0} over {1} are refused for {2} seconds after {3} failed attempts (last tried: {4}).',
    items: ['clientAddress', 'protocol', 'seconds', 'failures', 'identity'],
  },
  smtpConnectionLimit: {
    provider: 'MSExchangeFrontEndTransport', eventId: 1030, qualifiers: 32772, level: 3, task: 1, keywords: CLASSIC,
    template: 'SMTP connection from {0} on {1} cut off by {2}: {3}.',
    items: ['clientAddress', 'listener', 'setting', 'detail'],
  },
  messageDelivered: {
    provider: 'MSExchangeTransport', eventId: 1000, qualifiers: 16388, level: 4, task: 1, keywords: CLASSIC,
    template: 'Message {0} from <{1}> delivered to {2} ({3} bytes).',
    items: ['messageId', 'sender', 'recipients', 'size'],
  },
  deliveryDeferred: {
    provider: 'MSExchangeTransport', eventId: 1010, qualifiers: 32772, level: 3, task: 1, keywords: CLASSIC,
    template: 'Queued message {0} from <{1}> to {2} deferred after attempt {3}: {4}',
    items: ['queueId', 'sender', 'recipients', 'attempt', 'error'],
  },
  deliveryFailed: {
    provider: 'MSExchangeTransport', eventId: 1020, qualifiers: 49156, level: 2, task: 1, keywords: CLASSIC,
    template: 'Queued message {0} from <{1}> to {2} failed permanently: {3}; a delivery status notification was sent.',
    items: ['queueId', 'sender', 'recipients', 'error'],
  },
  relayed: {
    provider: 'MSExchangeTransport', eventId: 1001, qualifiers: 16388, level: 4, task: 1, keywords: CLASSIC,
    template: 'Queued message {0} from <{1}> relayed to {2} through {3}.',
    items: ['queueId', 'sender', 'recipients', 'smartHost'],
  },
  serverStarted: {
    provider: 'Mailwarden', eventId: 1, qualifiers: 16384, level: 4, task: 1, keywords: CLASSIC,
    template: 'Mailwarden {0} started on {1}; listeners: {2}.',
    items: ['version', 'computer', 'listeners'],
  },
  serverStopped: {
    provider: 'Mailwarden', eventId: 2, qualifiers: 16384, level: 4, task: 1, keywords: CLASSIC,
    template: 'Mailwarden stopped; {0} sessions were released.',
    items: ['sessions'],
  },
} satisfies Record<string, EventKind>;

export type EventKindName = keyof typeof EVENT_KINDS;

export function renderEventMessage(kind: EventKind, data: string[]): string {
  return kind.template.replace(/\{(\d+)\}/g, (_, i: string) => data[Number(i)] ?? '');
}

export const LEVEL_NAMES: Record<EventLevel, string> = { 2: 'Error', 3: 'Warning', 4: 'Information' };
