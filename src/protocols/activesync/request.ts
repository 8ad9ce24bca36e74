/**
 * What an ActiveSync request says besides its body (MS-ASHTTP 2.2.1.1): the command, the device
 * and the protocol version, from the plain query string (`Cmd=Sync&User=…&DeviceId=…&DeviceType=…`
 * with the MS-ASProtocolVersion and X-MS-PolicyKey headers) or from the base64-encoded one
 * (MS-ASHTTP 2.2.1.1.1.1: one binary structure, the version and policy key inside), and the
 * Basic credentials. Anything malformed is an EasRequestError (HTTP 400), never a guess.
 */
/** Where ActiveSync is served (MS-ASHTTP 2.2.1.1.1). */
export const EAS_PATH = '/Microsoft-Server-ActiveSync';
export const PROTOCOL_VERSIONS = ['12.1', '14.0', '14.1'] as const;
export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number];

/** Commands by their base64 query code (MS-ASHTTP 2.2.1.1.1.1.2). */
const COMMAND_CODES: Record<number, string> = {
  0: 'Sync', 1: 'SendMail', 2: 'SmartForward', 3: 'SmartReply', 4: 'GetAttachment', 9: 'FolderSync', 10: 'FolderCreate',
  11: 'FolderDelete', 12: 'FolderUpdate', 13: 'MoveItems', 14: 'GetItemEstimate', 15: 'MeetingResponse', 16: 'Search',
  17: 'Settings', 18: 'Ping', 19: 'ItemOperations', 20: 'Provision', 21: 'ResolveRecipients', 22: 'ValidateCert',
};
/** Command parameters of the base64 form by tag (MS-ASHTTP 2.2.1.1.1.1.3). */
const PARAMETER_TAGS: Record<number, string> = { 0: 'AttachmentName', 1: 'CollectionId', 3: 'ItemId', 4: 'LongId', 6: 'Occurrence', 7: 'Options', 8: 'User' };

export class EasRequestError extends Error {}

export interface EasRequest {
  cmd: string;
  /** The User parameter (the Basic credentials are what count). */
  user: string | null;
  deviceId: string;
  deviceType: string;
  version: ProtocolVersion;
  policyKey: number | null;
  /** ItemId, CollectionId, SaveInSent (T/F), AttachmentName, LongId, Occurrence. */
  params: Record<string, string>;
}

/** MS-ASHTTP: DeviceId is at most 32 characters, letters and digits (we also take - and _ as some clients send them). */
const DEVICE_ID = /^[A-Za-z0-9_-]{1,32}$/;
const DEVICE_TYPE = /^[\x21-\x7e]{1,64}$/;

export function parseRequest(query: string, headers: Record<string, string | string[] | undefined>): EasRequest {
  if (query.length > 2048) throw new EasRequestError('query string too long');
  const r = query.includes('=') ? plainForm(query, headers) : base64Form(query);
  if (!DEVICE_ID.test(r.deviceId)) throw new EasRequestError('DeviceId missing or malformed');
  if (!DEVICE_TYPE.test(r.deviceType)) throw new EasRequestError('DeviceType missing or malformed');
  return r;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function version(v: string | undefined): ProtocolVersion {
  const s = v ?? '12.1';
  if (!(PROTOCOL_VERSIONS as readonly string[]).includes(s)) throw new EasRequestError(`protocol version ${s.slice(0, 10)} is not supported`);
  return s as ProtocolVersion;
}

function plainForm(query: string, headers: Record<string, string | string[] | undefined>): EasRequest {
  const q = new URLSearchParams(query);
  const cmd = q.get('Cmd');
  if (!cmd || !Object.values(COMMAND_CODES).includes(cmd)) throw new EasRequestError(`unknown command ${String(cmd).slice(0, 30)}`);
  const params: Record<string, string> = {};
  for (const k of ['ItemId', 'CollectionId', 'SaveInSent', 'AttachmentName', 'LongId', 'Occurrence']) {
    const v = q.get(k);
    if (v !== null) params[k] = v;
  }
  const pk = header(headers, 'x-ms-policykey');
  return {
    cmd, user: q.get('User'), deviceId: q.get('DeviceId') ?? '', deviceType: q.get('DeviceType') ?? '',
    version: version(header(headers, 'ms-asprotocolversion')), policyKey: pk && /^\d{1,10}$/.test(pk) ? Number(pk) : null, params,
  };
}

function base64Form(query: string): EasRequest {
  const b = Buffer.from(decodeURIComponent(query), 'base64');
  let pos = 0;
  const byte = () => {
    if (pos >= b.length) throw new EasRequestError('base64 query string truncated');
    return b[pos++]!;
  };
  const take = (n: number) => {
    if (pos + n > b.length) throw new EasRequestError('base64 query string truncated');
    const s = b.subarray(pos, pos + n);
    pos += n;
    return s;
  };
  const v = byte();
  const cmd = COMMAND_CODES[byte()];
  if (!cmd) throw new EasRequestError('unknown command code');
  take(2); // locale
  const idBytes = take(byte());
  // a binary DeviceId is shown in hex; a printable one as it is
  const deviceId = /^[A-Za-z0-9_-]+$/.test(idBytes.toString('latin1')) ? idBytes.toString('latin1') : idBytes.toString('hex').toUpperCase();
  const pkLen = byte();
  const pk = take(pkLen);
  const policyKey = pkLen === 4 ? pk.readUInt32LE(0) : null;
  const deviceType = take(byte()).toString('latin1');
  const params: Record<string, string> = {};
  let user: string | null = null;
  while (pos < b.length) {
    const tag = byte();
    const value = take(byte());
    const name = PARAMETER_TAGS[tag];
    if (!name) continue; // parameters of other commands (e.g. calendar's) are not ours to refuse
    if (name === 'Options') {
      if (value[0]! & 0x01) params.SaveInSent = 'T';
    } else if (name === 'User') user = value.toString('utf8');
    else params[name] = value.toString('utf8');
  }
  return { cmd, user, deviceId, deviceType, version: version(`${Math.floor(v / 10)}.${v % 10}`), policyKey, params };
}
