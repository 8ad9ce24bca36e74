/**
 * Exchange ActiveSync at /Microsoft-Server-ActiveSync on the HTTPS listener (MS-ASHTTP). Each
 * request logs on through the one pipeline (src/access/logon.ts, kind `eas`): Basic credentials
 * over TLS, the guard, ThrottlingPolicy.EASMaxConcurrency, the store session limits. The request
 * holds its `eas` store session while it runs — a Ping or a Sync with Wait for its whole wait,
 * which makes one session per (user, device) while a device is "pushed to" — and releases it when
 * it answers, whatever way it ends. A new held request from the same device supersedes the old
 * one in the pipeline's `authenticated` step, so it takes the old one's slot.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../server/context.js';
import { logon } from '../../access/logon.js';
import { easLogonAnswer } from '../../access/answers.js';
import type { MobileDevice } from '../../store/types.js';
import { EAS_PATH, EasRequestError, parseRequest, PROTOCOL_VERSIONS, type EasRequest } from './request.js';
import { provideAutodiscover } from '../shared/autodiscover.js';
import { basicCredentials } from '../shared/basic-auth.js';
import { EAS_AUTODISCOVER } from './autodiscover.js';

export { EAS_PATH };
import { WBXML_TYPE, type EasAnswer, type EasCall } from './call.js';
import { HeldRequests } from './held.js';
import { decode, encode, el, WbxmlError, type WbxmlElement } from './wbxml/codec.js';
import { sync } from './commands/sync.js';
import { ping } from './commands/ping.js';
import { folderCreate, folderDelete, folderSync, folderUpdate } from './commands/folders.js';
import { provision } from './commands/provision.js';
import { getItemEstimate } from './commands/estimate.js';
import { moveItems } from './commands/move.js';
import { itemOperations } from './commands/item-operations.js';
import { sendCommand } from './commands/send.js';
import { describeDevice, settings } from './commands/settings.js';
import { search } from './commands/search.js';

/** How stale a device's last-sync time may get before a request rewrites it (devices list shows it). */
const LAST_SYNC_GRANULARITY_MS = 60_000;
/** Request bodies: a message with attachments (SendMail) is the largest; the submission checks its own limit. */
const BODY_LIMIT = 64 * 1024 * 1024;

type Handler = (call: EasCall) => Promise<EasAnswer>;

/** The commands, and the code page and root of each one's answer (where a refusal's Status 111 goes). */
const COMMANDS: Record<string, { run: Handler; root: [string, string] | null; held?: boolean }> = {
  Sync: { run: sync, root: ['AirSync', 'Sync'], held: true },
  Ping: { run: ping, root: ['Ping', 'Ping'], held: true },
  FolderSync: { run: folderSync, root: ['FolderHierarchy', 'FolderSync'] },
  FolderCreate: { run: folderCreate, root: ['FolderHierarchy', 'FolderCreate'] },
  FolderUpdate: { run: folderUpdate, root: ['FolderHierarchy', 'FolderUpdate'] },
  FolderDelete: { run: folderDelete, root: ['FolderHierarchy', 'FolderDelete'] },
  Provision: { run: provision, root: ['Provision', 'Provision'] },
  GetItemEstimate: { run: getItemEstimate, root: ['GetItemEstimate', 'GetItemEstimate'] },
  MoveItems: { run: moveItems, root: ['Move', 'MoveItems'] },
  ItemOperations: { run: itemOperations, root: ['ItemOperations', 'ItemOperations'] },
  SendMail: { run: sendCommand('SendMail'), root: ['ComposeMail', 'SendMail'] },
  SmartReply: { run: sendCommand('SmartReply'), root: ['ComposeMail', 'SmartReply'] },
  SmartForward: { run: sendCommand('SmartForward'), root: ['ComposeMail', 'SmartForward'] },
  Settings: { run: settings, root: ['Settings', 'Settings'] },
  Search: { run: search, root: ['Search', 'Search'] },
};

/** What OPTIONS advertises (MS-ASHTTP 2.2.4). */
const ADVERTISED_HEADERS = {
  'MS-Server-ActiveSync': '14.1',
  'MS-ASProtocolVersions': PROTOCOL_VERSIONS.join(','),
  'MS-ASProtocolCommands': Object.keys(COMMANDS).join(','),
  Allow: 'OPTIONS,POST',
  Public: 'OPTIONS,POST',
};

/** The front end's state on the Fastify instance (tests and the admin API reach the held requests through it). */
export const EAS_DECORATION = 'mailwardenEas';
export interface EasState {
  held: HeldRequests;
}

export async function registerActiveSync(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  if (app.hasDecorator(EAS_DECORATION)) return;
  const held = new HeldRequests();
  // every request in progress, to answer at once when the server stops (a Set, not listeners on
  // one AbortSignal: with 10,000 held Pings, adding and removing those is linear per request)
  const running = new Set<AbortController>();
  app.decorate(EAS_DECORATION, { held } satisfies EasState);
  // held requests answer at once when the server stops, so that closing does not wait for heartbeats
  app.addHook('preClose', async () => {
    for (const c of running) c.abort();
  });

  await app.register(async (eas) => {
    eas.addContentTypeParser([WBXML_TYPE, 'application/vnd.ms-sync', 'message/rfc822'], { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
    eas.route({
      method: ['OPTIONS', 'POST'],
      url: EAS_PATH,
      bodyLimit: BODY_LIMIT,
      handler: (req, reply) => handle(ctx, held, running, req, reply),
    });
  });
  await provideAutodiscover(app, ctx, EAS_AUTODISCOVER);
}

/** The HTTP head (status aside) of each shared answer, built once: flat [name, value, …] as Node's writeHead takes it. */
const sharedHeads = new WeakMap<EasAnswer, string[]>();

function headOf(a: EasAnswer & { raw: Buffer }): string[] {
  let head = sharedHeads.get(a);
  if (!head) {
    head = ['cache-control', 'private'];
    for (const [k, v] of Object.entries(a.headers ?? {})) head.push(k.toLowerCase(), v);
    head.push('content-type', a.contentType ?? 'application/octet-stream', 'content-length', String(a.raw.length));
    sharedHeads.set(a, head);
  }
  return head;
}

/**
 * Writes an answer. A shared one (a woken Ping's: 10,000 devices woken by one delivery get a
 * handful of distinct answers) goes straight to Node's response with its head built once, past
 * Fastify's reply path (header merging, payload checks, the onSend hooks: their one hook,
 * http-server.ts's lingering close, acts only on an answer sent before the request's body was
 * read, never the case after a Ping's wait). What the other answers get still happens: Fastify
 * runs the onResponse hooks (in-flight count, metrics, the request's log line) on the response's
 * 'finish', hijacked or not, and Node's ServerResponse decides keep-alive, HTTP/1.0 and
 * `Connection: close` and adds Date. The session is released by handle()'s finally, as for all.
 */
function send(reply: FastifyReply, a: EasAnswer): FastifyReply {
  if (a.shared && a.raw) {
    reply.hijack();
    reply.raw.writeHead(a.status ?? 200, headOf(a as EasAnswer & { raw: Buffer }));
    reply.raw.end(a.raw);
    return reply;
  }
  reply.code(a.status ?? 200).header('cache-control', 'private');
  for (const [k, v] of Object.entries(a.headers ?? {})) reply.header(k, v);
  if (a.wbxml) return reply.type(WBXML_TYPE).send(encode(a.wbxml));
  if (a.raw) return reply.type(a.contentType ?? 'application/octet-stream').send(a.raw);
  return reply.send('');
}

async function handle(ctx: ServerContext, held: HeldRequests, running: Set<AbortController>, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (req.protocol !== 'https') return reply.code(403).send('ActiveSync needs TLS');
  const creds = basicCredentials(req.headers.authorization);
  if (!creds) return reply.code(401).header('www-authenticate', 'Basic realm="Mailwarden ActiveSync"').send('');
  const isOptions = req.method === 'OPTIONS';
  let r: EasRequest | null = null;
  if (!isOptions) {
    try {
      r = parseRequest(req.url.slice(req.url.indexOf('?') + 1 || req.url.length), req.headers);
    } catch (err) {
      if (err instanceof EasRequestError) return reply.code(400).send(err.message);
      throw err;
    }
  }
  const command = r ? COMMANDS[r.cmd] : undefined;
  if (r && !command) return reply.code(501).send(`${r.cmd} is not supported`);

  const result = await logon(ctx, {
    kind: 'eas', identity: creds.identity, password: creds.password, clientAddress: req.ip,
    clientInfo: r ? describeDevice({ deviceId: r.deviceId, deviceType: r.deviceType, model: '' }) : 'ActiveSync OPTIONS',
    log: req.log,
    // a new Ping (or Sync with Wait) from this device answers the one it holds and takes its slot
    authenticated: r && command?.held ? async (user) => void (await held.supersede(user.id, r!.deviceId)) : undefined,
  });
  if (!result.ok) {
    const a = easLogonAnswer(result.refusal);
    const headers: Record<string, string> = { 'x-mailwarden-refusal': a.text.replace(/[^\x20-\x7e]/g, '?') };
    if (a.retryAfterSeconds) headers['retry-after'] = String(a.retryAfterSeconds);
    if (a.status === 401) headers['www-authenticate'] = 'Basic realm="Mailwarden ActiveSync"';
    const root = command?.root;
    return send(reply, { status: a.status, headers, wbxml: a.easStatus && root ? el(root[0], root[1], [el(root[0], 'Status', String(a.easStatus))]) : undefined });
  }
  const session = result.session!;
  const gone = new AbortController();
  const onClose = () => gone.abort();
  // the client went away (or gave up on a Ping): stop waiting for it
  req.raw.socket?.once('close', onClose);
  running.add(gone);
  try {
    if (isOptions) return send(reply, { headers: ADVERTISED_HEADERS });
    const device = await admitDevice(ctx, result.user.id, r!, req.headers['user-agent']);
    if (!device) return send(reply, { wbxml: el(command!.root![0], command!.root![1], [el(command!.root![0], 'Status', '177')]) });
    session.setClientInfo(describeDevice(device));
    let body: WbxmlElement | null = null;
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (raw.length && String(req.headers['content-type'] ?? '').startsWith('application/vnd.ms-sync')) {
      try {
        body = decode(raw);
      } catch (err) {
        if (err instanceof WbxmlError) return reply.code(400).send(err.message);
        throw err;
      }
    }
    const answer = await command!.run({ ctx, user: result.user, session, device, req: r!, body, raw, signal: gone.signal, held });
    // no session.touch() here: the session closes below, and a touch is an accounting write (a
    // Redis round trip on a node of several) for each of 10,000 woken Pings
    return send(reply, answer);
  } finally {
    req.raw.socket?.off('close', onClose);
    running.delete(gone);
    await session.close();
  }
}

/**
 * The device record for this request: made at the device's first request unless the user has
 * ThrottlingPolicy.EASMaxDevices already (null: refused, Status 177 MaximumDevicesReached).
 */
async function admitDevice(ctx: ServerContext, userId: number, r: EasRequest, userAgent: string | undefined): Promise<MobileDevice | null> {
  const devices = await ctx.store.listDevices(userId);
  const known = devices.find((d) => d.deviceId === r.deviceId);
  const agent = userAgent?.slice(0, 200);
  // a device that asks again is not a store write each time (10,000 phones re-pinging every
  // heartbeat): its record is rewritten when something in it changed, or by a command other than
  // Ping whose last-sync time is a minute old (a Ping is not a sync)
  const unchanged = known && known.deviceType === r.deviceType && (agent === undefined || known.userAgent === agent);
  if (unchanged && (r.cmd === 'Ping' || Date.now() - known.lastSyncAt.getTime() < LAST_SYNC_GRANULARITY_MS)) return known;
  if (!known) {
    const user = await ctx.store.getUser(userId);
    const max = ctx.settings.int('ThrottlingPolicy.EASMaxDevices', { userId, databaseId: user?.databaseId ?? 0 });
    if (max > 0 && devices.length >= max) return null;
  }
  return ctx.store.upsertDevice({ userId, deviceId: r.deviceId, deviceType: r.deviceType, userAgent: agent });
}
