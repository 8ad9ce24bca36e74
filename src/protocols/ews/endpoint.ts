/**
 * Exchange Web Services on the HTTPS listener: `POST /EWS/Exchange.asmx` (SOAP 1.1, Basic
 * authentication over TLS), and its POX Autodiscover answer on the shared route (Outlook's
 * schema: autodiscover.ts). Each request is one `ews` store session, opened through the one logon pipeline (src/access/logon.ts) and closed when the answer is
 * written; refusals are answered from src/access/answers.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { EWS_LOGON_ANSWERS, EWS_STORE_ERRORS } from '../../access/answers.js';
import { logon } from '../../access/logon.js';
import { TooManyObjectsOpened } from '../../governor/errors.js';
import type { ServerContext } from '../../server/context.js';
import { StoreError } from '../../store/errors.js';
import type { User } from '../../store/types.js';
import type { StoreSession } from '../../governor/governor.js';
import { EwsError, type EwsCall, type EwsStream } from './call.js';
import { OPERATIONS } from './operations/index.js';
import { errorMessage, responseMessages } from './responses.js';
import { atLeast, envelope, faultEnvelope, readEnvelope, responseElement, SoapFault, SERVER_VERSION } from './soap.js';
import { EWS_AUTODISCOVER } from './autodiscover.js';
import { provideAutodiscover } from '../shared/autodiscover.js';
import { basicCredentials } from '../shared/basic-auth.js';
import { closeSubscriptions } from './subscriptions.js';

/** Largest request accepted (a message with attachments travels base64 in MimeContent). */
export const MAX_REQUEST_BYTES = 35 * 1024 * 1024;

export const EWS_PATHS = ['/EWS/Exchange.asmx', '/ews/exchange.asmx', '/EWS/exchange.asmx'];

const XML = 'text/xml; charset=utf-8';

function challenge(reply: FastifyReply, ctx: ServerContext): FastifyReply {
  return reply.code(401).header('www-authenticate', `Basic realm="${ctx.computer}"`).type('text/plain').send('401 Unauthorized');
}

const sendXml = (reply: FastifyReply, status: number, xml: string) => reply.code(status).type(XML).send(xml);
const sendFault = (reply: FastifyReply, f: SoapFault, status = 500) => sendXml(reply, status, faultEnvelope(f));

type Authenticated = { user: User; session: StoreSession };

/** Basic over TLS through the logon pipeline; null when an answer (401, fault) was already sent. */
async function authenticate(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply): Promise<Authenticated | null> {
  if (!(req.raw.socket as TLSSocket).encrypted) {
    await reply.code(403).type('text/plain').send('Basic authentication is accepted over TLS only');
    return null;
  }
  const creds = basicCredentials(req.headers.authorization);
  if (!creds) {
    await challenge(reply, ctx);
    return null;
  }
  const r = await logon(ctx, {
    kind: 'ews', identity: creds.identity, password: creds.password, clientAddress: req.ip,
    clientInfo: String(req.headers['user-agent'] ?? '').slice(0, 200) || null, log: req.log,
  });
  if (r.ok) return { user: r.user, session: r.session! };
  const a = EWS_LOGON_ANSWERS[r.refusal.kind](r.refusal);
  if (a.httpStatus === 401) await challenge(reply, ctx);
  else await sendFault(reply, new SoapFault(a.responseCode, a.text, a.backOffMs));
  return null;
}

/** The answer to an error outside any one response message. */
function faultFor(err: unknown, ctx: ServerContext, req: FastifyRequest): SoapFault {
  if (err instanceof SoapFault) return err;
  if (err instanceof TooManyObjectsOpened) return new SoapFault('ErrorTooManyObjectsOpened', err.clientText);
  if (err instanceof StoreError) {
    const a = EWS_STORE_ERRORS[err.kind];
    return new SoapFault(a.responseCode, err.message, a.backOffMs);
  }
  req.log.error({ err }, 'EWS request failed');
  void ctx;
  return new SoapFault('ErrorInternalServerError', 'An internal server error occurred. The operation failed.');
}

async function handleEws(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const auth = await authenticate(ctx, req, reply);
  if (!auth) return;
  const { user, session } = auth;
  let streaming = false;
  try {
    const body = typeof req.body === 'string' ? req.body : '';
    const soap = readEnvelope(body);
    const name = soap.operation.name;
    const entry = OPERATIONS[name];
    if (!entry) throw new SoapFault('ErrorInvalidRequest', `The operation ${name} is not supported by this server`);
    if (!atLeast(soap.version, entry.since)) {
      throw new SoapFault('ErrorInvalidServerVersion', `${name} needs RequestServerVersion ${entry.since} or later`);
    }
    const call: EwsCall = { ctx, user, session, version: soap.version };
    if (name === 'GetStreamingEvents') {
      streaming = true;
      call.stream = openStream(req, reply);
    }
    let inner: string;
    try {
      inner = await entry.run(call, soap.operation);
    } catch (err) {
      if (!(err instanceof EwsError)) throw err;
      inner = responseMessages([errorMessage(name, err.responseCode, err.message)]);
    }
    if (streaming) {
      call.stream!.write(envelope(responseElement(name, inner)));
      reply.raw.end();
      return;
    }
    await sendXml(reply, 200, envelope(responseElement(name, inner)));
  } catch (err) {
    const fault = faultFor(err, ctx, req);
    if (streaming && reply.raw.headersSent) {
      reply.raw.end(faultEnvelope(fault));
      return;
    }
    await sendFault(reply, fault);
  } finally {
    await session.close('logout');
  }
}

/** A chunked answer for GetStreamingEvents: each write is one complete SOAP envelope. */
function openStream(req: FastifyRequest, reply: FastifyReply): EwsStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': XML, 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' });
  let closed = false;
  const done = new Promise<void>((resolve) => {
    const end = () => { closed = true; resolve(); };
    req.raw.socket.once('close', end);
    res.once('close', end);
  });
  return {
    write: (xml) => { if (!closed) res.write(xml); },
    closed: done,
    isClosed: () => closed,
  };
}

/** The Fastify plugin: registered by the composition root next to the web mail. */
export async function registerEws(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  await app.register(async (ews) => {
    ews.removeAllContentTypeParsers();
    ews.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_REQUEST_BYTES }, (_req, body, done) => done(null, body));
    ews.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, req, reply) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return sendFault(reply, new SoapFault('ErrorSchemaValidation', `The request is larger than ${MAX_REQUEST_BYTES} bytes`), 413);
      }
      return sendFault(reply, faultFor(err, ctx, req));
    });
    for (const path of EWS_PATHS) {
      ews.post(path, (req, reply) => handleEws(ctx, req, reply));
      ews.get(path, async (req, reply) => {
        // a GET is how some tools probe for EWS: the same authentication answer, then a pointer to POST
        const auth = await authenticate(ctx, req, reply);
        if (!auth) return;
        await auth.session.close('logout');
        return reply.code(405).header('allow', 'POST').type('text/plain').send('Exchange Web Services: POST SOAP 1.1 requests here');
      });
    }
  });
  await provideAutodiscover(app, ctx, EWS_AUTODISCOVER);
  // streaming connections never go idle, so the server would wait for them: end them first
  app.addHook('preClose', async () => closeSubscriptions(ctx));
}
