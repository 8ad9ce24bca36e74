/**
 * POX Autodiscover on the HTTPS listener (`POST /autodiscover/autodiscover.xml`): one route that
 * several front ends answer. Outlook and EWS clients ask for the Outlook response schema
 * ([MS-OXDSCLI]), phones for the mobilesync one (MS-ASCMD 2.2.1.1); the request's
 * AcceptableResponseSchema picks the provider that a front end registered here, so that neither
 * front end imports the other. Basic authentication over TLS through the one logon pipeline, as
 * the provider's own requests (`ews` or `eas` store session, closed when the answer is written);
 * the request body is read by the strict XML reader (no DOCTYPE, no entities). A provider only
 * answers for the signed-in user's own address: any other is the documented "not found" error.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import type { ServerContext } from '../../server/context.js';
import type { User } from '../../store/types.js';
import { logon } from '../../access/logon.js';
import { LOGON_ANSWERS } from '../../access/answers.js';
import { child, esc, parseXml } from './xml.js';
import { basicCredentials } from './basic-auth.js';

export const AUTODISCOVER_PATHS = ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml'];
/** The envelope every answer is in (MS-ASCMD 6.4, [MS-OXDSCLI] 2.2.4). */
export const AUTODISCOVER_RESPONSE_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';
/** Largest Autodiscover request read (a request is an address and a schema: a few hundred bytes). */
const MAX_REQUEST_BYTES = 64 * 1024;
const XML = 'text/xml; charset=utf-8';

/** What a provider answers for. */
export interface AutodiscoverAsk {
  user: User;
  /** `https://host[:port]` as the client reached us (the Host header, cleaned). */
  origin: string;
}

export interface AutodiscoverProvider {
  /** The AcceptableResponseSchema it answers. */
  schema: string;
  /** The logon kind (store session kind and limits) its requests count as. */
  kind: 'ews' | 'eas';
  /**
   * The namespace of the Response element that carries this schema's errors: mobilesync answers
   * them in its own Response (MS-ASCMD 4.2.3), Outlook's schema in the envelope's.
   */
  errorNs: string;
  /** The Response element (with its xmlns) for the user's own address. */
  answer(ctx: ServerContext, ask: AutodiscoverAsk): Promise<string>;
}

const DECORATION = 'mailwardenAutodiscover';
type Registry = Map<string, AutodiscoverProvider>;

/**
 * Adds a provider; the first one to register also installs the route. Front ends call this from
 * their Fastify plugin, on the root instance the HTTP shell hands them.
 */
export async function provideAutodiscover(app: FastifyInstance, ctx: ServerContext, provider: AutodiscoverProvider): Promise<void> {
  if (app.hasDecorator(DECORATION)) {
    (app as unknown as Record<string, Registry>)[DECORATION]!.set(provider.schema, provider);
    return;
  }
  const registry: Registry = new Map([[provider.schema, provider]]);
  app.decorate(DECORATION, registry);
  await app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_REQUEST_BYTES }, (_req, body, done) => done(null, body));
    for (const path of AUTODISCOVER_PATHS) sub.post(path, (req, reply) => handle(ctx, registry, req, reply));
  });
}

export function autodiscoverError(ns: string, code: 500 | 600 | 601, message: string): string {
  // Id: an opaque number the client may quote back to an administrator
  const id = Math.floor(Math.random() * 2 ** 31);
  const time = new Date().toISOString().slice(11, 23);
  return `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="${AUTODISCOVER_RESPONSE_NS}"><Response${ns === AUTODISCOVER_RESPONSE_NS ? '' : ` xmlns="${ns}"`}>`
    + `<Error Time="${time}" Id="${id}"><ErrorCode>${code}</ErrorCode><Message>${esc(message)}</Message><DebugData/></Error></Response></Autodiscover>`;
}

/** The address and schema asked for; null when the body is not an Autodiscover request. */
function readRequest(body: string): { address: string; schema: string | null } | null {
  try {
    const request = child(parseXml(body, 8), 'Request');
    const address = child(request, 'EMailAddress')?.text.trim();
    if (!address) return null;
    return { address, schema: child(request, 'AcceptableResponseSchema')?.text.trim() || null };
  } catch {
    return null;
  }
}

async function handle(ctx: ServerContext, registry: Registry, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!(req.raw.socket as TLSSocket).encrypted) return reply.code(403).type('text/plain').send('Basic authentication is accepted over TLS only');
  const creds = basicCredentials(req.headers.authorization);
  const challenge = () => reply.code(401).header('www-authenticate', `Basic realm="${ctx.computer}"`).type('text/plain').send('401 Unauthorized');
  if (!creds) return challenge();
  const asked = readRequest(typeof req.body === 'string' ? req.body : '');
  // a request without a schema is an Outlook-style one (older EWS clients leave it out)
  const provider = asked ? registry.get(asked.schema ?? OUTLOOK_SCHEMA) ?? null : null;
  // the logon counts as the provider's kind; a request no provider takes, as the first registered
  const kind = (provider ?? registry.values().next().value!).kind;
  const r = await logon(ctx, {
    kind, identity: creds.identity, password: creds.password, clientAddress: req.ip,
    clientInfo: String(req.headers['user-agent'] ?? '').slice(0, 200) || null, log: req.log,
  });
  if (!r.ok) {
    const a = LOGON_ANSWERS[r.refusal.kind].http(r.refusal);
    if (a.status === 401) return challenge();
    if (a.retryAfterSeconds) reply.header('retry-after', String(a.retryAfterSeconds));
    return reply.code(a.status).type('text/plain').send(a.text);
  }
  try {
    if (!asked) return await reply.code(200).type(XML).send(autodiscoverError(AUTODISCOVER_RESPONSE_NS, 600, 'Invalid Request'));
    if (!provider) return await reply.code(200).type(XML).send(autodiscoverError(AUTODISCOVER_RESPONSE_NS, 601, 'Provider could not be found for the requested AcceptableResponseSchema'));
    if (asked.address.toLowerCase() !== r.user.address.toLowerCase()) {
      return await reply.code(200).type(XML).send(autodiscoverError(provider.errorNs, 500, "The email address can't be found."));
    }
    const host = String(req.headers.host ?? ctx.computer).replace(/[^A-Za-z0-9.:\-[\]]/g, '');
    const inner = await provider.answer(ctx, { user: r.user, origin: `https://${host}` });
    return await reply.code(200).type(XML).send(`<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="${AUTODISCOVER_RESPONSE_NS}">${inner}</Autodiscover>`);
  } finally {
    await r.session!.close('logout');
  }
}

/** Outlook's response schema ([MS-OXDSCLI] 2.2.4.1): the EWS front end answers it. */
export const OUTLOOK_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';
/** The mobilesync response schema (MS-ASCMD 2.2.1.1): the ActiveSync front end answers it. */
export const MOBILESYNC_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
