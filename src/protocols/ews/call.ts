/** What an operation gets: the user's request-long store session and the server's context. */
import type { ServerContext } from '../../server/context.js';
import type { StoreSession } from '../../governor/governor.js';
import type { User } from '../../store/types.js';
import type { ApiVersion } from './soap.js';
import type { XmlElement } from './xml.js';

export interface EwsCall {
  ctx: ServerContext;
  user: User;
  session: StoreSession;
  version: ApiVersion;
  /** The raw HTTP request/response, for the one operation that streams (GetStreamingEvents). */
  stream?: EwsStream;
}

/** A response body written in pieces (GetStreamingEvents): each `write` is one complete envelope. */
export interface EwsStream {
  write(envelopeXml: string): void;
  /** Resolves when the client goes away. */
  closed: Promise<void>;
  isClosed(): boolean;
}

/** An operation: returns the inner XML of its `<m:XResponse>` element. */
export type Operation = (call: EwsCall, op: XmlElement) => Promise<string>;

/** A failure of one response message (not the whole request): ResponseClass="Error" with this code. */
export class EwsError extends Error {
  override readonly name = 'EwsError';
  constructor(readonly responseCode: string, message: string) {
    super(message);
  }
}
