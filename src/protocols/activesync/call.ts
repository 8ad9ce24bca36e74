/** What a command handler gets (one authenticated request) and what it answers. */
import type { ServerContext } from '../../server/context.js';
import type { StoreSession } from '../../governor/governor.js';
import type { MobileDevice, User } from '../../store/types.js';
import type { EasRequest } from './request.js';
import type { WbxmlElement } from './wbxml/codec.js';
import type { HeldRequests } from './held.js';

/** The media type of WBXML bodies (MS-ASHTTP 2.2.1.1.2.3). */
export const WBXML_TYPE = 'application/vnd.ms-sync.wbxml';

export interface EasCall {
  ctx: ServerContext;
  user: User;
  /** The request's `eas` store session: held for the command's duration (a Ping's whole wait). */
  session: StoreSession;
  device: MobileDevice;
  req: EasRequest;
  /** The decoded WBXML body; null when the request had none. */
  body: WbxmlElement | null;
  /** The body as sent (SendMail in 12.1 sends MIME, not WBXML). */
  raw: Buffer;
  /** Aborted when the client goes away, the request is superseded, or the server stops. */
  signal: AbortSignal;
  held: HeldRequests;
}

export interface EasAnswer {
  /** HTTP status; 200 by default. */
  status?: number;
  wbxml?: WbxmlElement;
  /** A body that is not WBXML (an attachment). */
  raw?: Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  /**
   * Built once and given to many requests (the answers a woken Ping gives: commands/ping.ts), so
   * never changed after it is made: plugin.ts builds its HTTP head once and writes it past
   * Fastify's reply path.
   */
  shared?: true;
}

/** A device's named state, as JSON, through the store contract. */
export async function loadState<T>(call: Pick<EasCall, 'ctx' | 'user' | 'device'>, name: string): Promise<T | null> {
  const v = await call.ctx.store.getDeviceState(call.user.id, call.device.deviceId, name);
  return v === null ? null : (JSON.parse(v) as T);
}

export async function saveState(call: Pick<EasCall, 'ctx' | 'user' | 'device'>, name: string, value: unknown): Promise<void> {
  await call.ctx.store.putDeviceState(call.user.id, call.device.deviceId, name, value === null ? null : JSON.stringify(value));
}
