/**
 * An ActiveSync client of our own, written from MS-ASHTTP/MS-ASCMD (no ActiveSync client can be
 * installed here): HTTPS with Basic credentials, the plain or the base64 query string, WBXML
 * bodies. With `verify`, every WBXML request it sends is first encoded by Debian's xml2wbxml from
 * the same document and must be the same bytes — so the server is fed what libwbxml2 would write,
 * not only what our own encoder writes.
 */
import { request, Agent } from 'node:https';
import { decode, encode, el, child, childText, children, type WbxmlElement } from '../../src/protocols/activesync/wbxml/codec.js';
import { toXml } from '../../src/protocols/activesync/wbxml/xml.js';
import { libwbxmlEncode } from './libwbxml.js';

export interface EasResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: WbxmlElement | null;
  raw: Buffer;
}

export interface EasClientOptions {
  port: number;
  ca: string;
  user: string;
  password: string;
  deviceId: string;
  deviceType?: string;
  version?: '12.1' | '14.0' | '14.1';
  /** Check every WBXML request against libwbxml2's encoding of the same document. */
  verify?: boolean;
  /** Use the base64-encoded query string (MS-ASHTTP 2.2.1.1.1.1). */
  base64Query?: boolean;
}

const COMMAND_CODES: Record<string, number> = {
  Sync: 0, SendMail: 1, SmartForward: 2, SmartReply: 3, FolderSync: 9, FolderCreate: 10, FolderDelete: 11, FolderUpdate: 12, MoveItems: 13,
  GetItemEstimate: 14, Search: 16, Settings: 17, Ping: 18, ItemOperations: 19, Provision: 20,
};

export class EasClient {
  policyKey = 0;
  /** How many requests were checked against libwbxml2. */
  verified = 0;
  private readonly agent = new Agent({ keepAlive: false });

  constructor(readonly o: EasClientOptions) {}

  private query(cmd: string, params: Record<string, string>): string {
    if (!this.o.base64Query) {
      return new URLSearchParams({ Cmd: cmd, User: this.o.user, DeviceId: this.o.deviceId, DeviceType: this.o.deviceType ?? 'TestPhone', ...params }).toString();
    }
    const v = Number((this.o.version ?? '14.1').replace('.', ''));
    const id = Buffer.from(this.o.deviceId, 'latin1');
    const type = Buffer.from(this.o.deviceType ?? 'TestPhone', 'latin1');
    const pk = Buffer.alloc(4);
    pk.writeUInt32LE(this.policyKey);
    const parts = [Buffer.from([v, COMMAND_CODES[cmd]!, 0x09, 0x04, id.length]), id, Buffer.from([4]), pk, Buffer.from([type.length]), type];
    const user = Buffer.from(this.o.user);
    parts.push(Buffer.from([8, user.length]), user);
    for (const [k, val] of Object.entries(params)) {
      const tag = { AttachmentName: 0, CollectionId: 1, ItemId: 3, LongId: 4 }[k];
      if (k === 'SaveInSent') parts.push(Buffer.from([7, 1, val === 'T' ? 1 : 0]));
      else if (tag !== undefined) parts.push(Buffer.from([tag, Buffer.byteLength(val)]), Buffer.from(val));
    }
    return encodeURIComponent(Buffer.concat(parts).toString('base64'));
  }

  /** One command. `body`: a WBXML document, raw bytes (12.1 SendMail), or nothing. */
  send(cmd: string, body?: WbxmlElement | Buffer, opts: { params?: Record<string, string>; contentType?: string; password?: string; signal?: AbortSignal } = {}): Promise<EasResponse> {
    let payload: Buffer | undefined;
    let contentType = opts.contentType;
    if (body && !Buffer.isBuffer(body)) {
      payload = encode(body);
      if (this.o.verify) {
        const theirs = libwbxmlEncode(toXml(body));
        if (!theirs.equals(payload)) throw new Error(`our ${cmd} request differs from libwbxml2's:\nours   ${payload.toString('hex')}\ntheirs ${theirs.toString('hex')}`);
        this.verified++;
      }
      contentType ??= 'application/vnd.ms-sync.wbxml';
    } else payload = body;
    const auth = Buffer.from(`${this.o.user}:${opts.password ?? this.o.password}`).toString('base64');
    const headers: Record<string, string> = { authorization: `Basic ${auth}`, 'user-agent': 'MailwardenTestClient/1.0' };
    if (!this.o.base64Query) {
      headers['ms-asprotocolversion'] = this.o.version ?? '14.1';
      headers['x-ms-policykey'] = String(this.policyKey);
    }
    if (payload) {
      headers['content-type'] = contentType!;
      headers['content-length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port: this.o.port, method: 'POST', path: `/Microsoft-Server-ActiveSync?${this.query(cmd, opts.params ?? {})}`,
        headers, ca: this.o.ca, agent: this.agent, signal: opts.signal,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const isWbxml = String(res.headers['content-type'] ?? '').startsWith('application/vnd.ms-sync.wbxml') && raw.length > 0;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: isWbxml ? decode(raw) : null, raw });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  options(): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
    return new Promise((resolve, reject) => {
      const auth = Buffer.from(`${this.o.user}:${this.o.password}`).toString('base64');
      const req = request({ host: '127.0.0.1', port: this.o.port, method: 'OPTIONS', path: '/Microsoft-Server-ActiveSync', headers: { authorization: `Basic ${auth}` }, ca: this.o.ca, agent: this.agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  // ------------------------------------------------------------- the usual conversation

  async provision(): Promise<void> {
    const policy = (key?: string) => el('Provision', 'Provision', [el('Provision', 'Policies', [el('Provision', 'Policy', [
      el('Provision', 'PolicyType', 'MS-EAS-Provisioning-WBXML'), key ? el('Provision', 'PolicyKey', key) : null,
      key ? el('Provision', 'Status', '1') : null,
    ])])]);
    const first = await this.send('Provision', policy());
    const temporary = childText(child(child(first.body!, 'Policies'), 'Policy'), 'PolicyKey');
    if (!temporary) throw new Error('no temporary policy key');
    this.policyKey = Number(temporary);
    const second = await this.send('Provision', policy(temporary));
    this.policyKey = Number(childText(child(child(second.body!, 'Policies'), 'Policy'), 'PolicyKey'));
  }

  /** FolderSync from key 0: the folders by display name → ServerId. */
  async folderSync(key = '0'): Promise<{ key: string; folders: Map<string, { serverId: string; type: string; parentId: string }>; changes: WbxmlElement[] }> {
    const r = await this.send('FolderSync', el('FolderHierarchy', 'FolderSync', [el('FolderHierarchy', 'SyncKey', key)]));
    const folders = new Map<string, { serverId: string; type: string; parentId: string }>();
    const changes = children(child(r.body!, 'Changes')).filter((c) => c.tag !== 'Count');
    for (const a of changes.filter((c) => c.tag === 'Add')) {
      folders.set(childText(a, 'DisplayName')!, { serverId: childText(a, 'ServerId')!, type: childText(a, 'Type')!, parentId: childText(a, 'ParentId')! });
    }
    return { key: childText(r.body!, 'SyncKey')!, folders, changes };
  }

  /** One Sync of one collection. */
  async sync(collectionId: string, key: string, opts: { windowSize?: number; commands?: WbxmlElement[]; bodyType?: number; getChanges?: boolean; wait?: number } = {}): Promise<{ key: string; status: string; collection: WbxmlElement; adds: WbxmlElement[]; changes: WbxmlElement[]; deletes: WbxmlElement[]; more: boolean; response: EasResponse }> {
    const collection = el('AirSync', 'Collection', [
      el('AirSync', 'SyncKey', key), el('AirSync', 'CollectionId', collectionId),
      key !== '0' && opts.getChanges !== false ? el('AirSync', 'GetChanges') : null,
      opts.windowSize ? el('AirSync', 'WindowSize', String(opts.windowSize)) : null,
      el('AirSync', 'Options', [el('AirSync', 'FilterType', '0'), el('AirSyncBase', 'BodyPreference', [el('AirSyncBase', 'Type', String(opts.bodyType ?? 1)), el('AirSyncBase', 'TruncationSize', '200000')])]),
      opts.commands?.length ? el('AirSync', 'Commands', opts.commands) : null,
    ]);
    const response = await this.send('Sync', el('AirSync', 'Sync', [el('AirSync', 'Collections', [collection]), opts.wait ? el('AirSync', 'HeartbeatInterval', String(opts.wait)) : null]));
    if (response.status !== 200 || !response.body) throw new Error(`Sync answered HTTP ${response.status}`);
    const c = child(child(response.body, 'Collections'), 'Collection')!;
    const cmds = children(child(c, 'Commands'));
    return {
      key: childText(c, 'SyncKey')!, status: childText(c, 'Status')!, collection: c, response,
      adds: cmds.filter((x) => x.tag === 'Add'), changes: cmds.filter((x) => x.tag === 'Change'), deletes: cmds.filter((x) => x.tag === 'Delete'),
      more: child(c, 'MoreAvailable') !== undefined,
    };
  }

  ping(folderIds: string[], heartbeat = 600, signal?: AbortSignal): Promise<EasResponse> {
    return this.send('Ping', el('Ping', 'Ping', [el('Ping', 'HeartbeatInterval', String(heartbeat)), el('Ping', 'Folders', folderIds.map((id) => el('Ping', 'Folder', [el('Ping', 'Id', id), el('Ping', 'Class', 'Email')])))]), { signal });
  }
}

/** The ServerIds of Sync Adds (and Subject of each, for asserting on what arrived). */
export function addsOf(adds: WbxmlElement[]): Array<{ serverId: string; subject: string; read: string }> {
  return adds.map((a) => {
    const data = child(a, 'ApplicationData');
    return { serverId: childText(a, 'ServerId')!, subject: childText(data, 'Subject') ?? '', read: childText(data, 'Read') ?? '' };
  });
}
