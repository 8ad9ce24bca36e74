import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { ServerContext } from '../../server/context.js';
import type { Listener, ListenerOptions } from '../../server/listener.js';
import type { User } from '../../store/types.js';
import { LOGON_ANSWERS, STORE_ERROR_ANSWERS } from '../../access/answers.js';
import { StoreError } from '../../store/errors.js';
import { normaliseClientAddress } from '../../access/client-address.js';
import { logon } from '../../access/logon.js';
import type { Log } from '../../observability/log.js';
import { deliverLocal, hasRoom, receivedHeader } from '../../transport/deliver.js';
import { notifyLocalOutcome } from '../../transport/dsn.js';
import { resolveRecipient, type Recipient } from '../../transport/recipients.js';
import { SmtpReply, oneLine } from '../../transport/replies.js';
import { withEnhancedCodes } from './enhanced-codes.js';
import { submitMessage } from '../../transport/submit.js';
import { checkEnvid, checkOrcpt, queueDsnOf } from '../../transport/dsn-params.js';
import { setGreetingDelay } from './greeting-delay.js';
import { checkDsnXtext, rawDsnProblem } from './dsn-xtext.js';
import { useFastDataScan } from './data-scan.js';
import { checkInbound, preloadInboundChecks, withoutOurResults } from '../../transport/inbound-auth.js';
import { acceptProxyProtocol } from '../shared/proxy-protocol.js';
import { SmtpDeadlines, type DeadlineConnection } from './deadlines.js';
import type { Socket } from 'node:net';
import { INPUT_BUDGET_SETTING } from '../shared/input-budget.js';
import { prepareSpool, readMessage, spoolDir } from './data-spool.js';

/**
 * mx: port 25, mail for local mailboxes from anyone. submission: 587/465, authenticated users
 * send to anyone. lmtp: RFC 2033, a mail server in front (Postfix, Exim) hands over mail for
 * local mailboxes and gets one reply per recipient after the commit.
 */
export type SmtpMode = 'mx' | 'submission' | 'lmtp';

// RFC 5321 4.5.3.1.4 allows 512 octets per command line; AUTH PLAIN with a long password
// needs more (RFC 4954 4: 12288 for the whole exchange), so the bound is set between.
const MAX_COMMAND_LENGTH = 4096;
// RFC 5321 4.5.3.2.7: a server should wait at least 5 minutes for the next command.
const SOCKET_TIMEOUT_MS = 5 * 60_000;
// How long close() lets a transfer in progress finish before cutting it off with 421.
const CLOSE_GRACE_MS = 5_000;

const reply = (code: number, enhanced: string, text: string) => new SmtpReply(code, enhanced, text);

/** Runs a handler body; an unexpected error becomes a 451 without internal details (those go to the log). */
function settle(log: Log, body: () => Promise<void>, cb: (err?: Error | null) => void): void {
  body().then(
    () => cb(),
    (err: Error) => {
      if (err instanceof SmtpReply) return cb(err);
      if (err instanceof StoreError) {
        log.info({ err }, 'command refused by the store');
        // the reply for the store error's kind (access/answers.ts); the kind, not the internal message
        const [code, enhanced] = STORE_ERROR_ANSWERS[err.kind].smtp;
        return cb(reply(code, enhanced, `Local mailbox store: ${err.kind}${code < 500 ? '; try again later' : ''}`));
      }
      log.error({ err }, 'command failed');
      cb(reply(451, '4.3.0', 'Temporary local problem; try again later'));
    },
  );
}

/** Submission without a logon: the library checks this only while AUTH is enabled for the session. */
function requireUser(session: SMTPServerSession): User {
  if (!session.user) throw reply(530, '5.7.0', 'Authentication required');
  return session.user as User;
}

function declaredSize(session: SMTPServerSession): number {
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  const size = args && typeof args.SIZE === 'string' ? Number(args.SIZE) : 0;
  return Number.isFinite(size) && size > 0 ? size : 0;
}

/**
 * The SMTP listener. `mx` (port 25) takes mail for local mailboxes from anyone and relays
 * nothing; `submission` (587 with STARTTLS, 465 with implicit TLS) takes mail from
 * authenticated users for anyone. A 250 after DATA comes only after the store committed.
 */
export async function startSmtpServer(ctx: ServerContext, opts: ListenerOptions & { mode: SmtpMode }): Promise<Listener> {
  const submission = opts.mode === 'submission';
  const lmtp = opts.mode === 'lmtp';
  const perIp = new Map<string, number>();
  const admitted = new Set<string>();
  const deadlines = new Map<string, SmtpDeadlines>();
  const spool = spoolDir(ctx.dataDir);
  prepareSpool(spool);
  const listenerName = submission ? (opts.implicitTls ? 'smtps' : 'submission') : lmtp ? 'lmtp' : 'smtp';
  /** A limit of this listener bit: log, metric, event 1030 (MSExchangeFrontEndTransport). */
  const bitten = (session: SMTPServerSession, setting: string, detail: string) => {
    const ip = normaliseClientAddress(session.remoteAddress);
    logOf(session).info({ client: ip, setting, detail }, 'connection cut off');
    ctx.metrics.recordConnectionRefusal('smtp', setting);
    void ctx.events.write('smtpConnectionLimit', [ip, listenerName, setting, detail]).catch(() => undefined);
  };
  /** smtp-server's connection object of a session (its public send/close; the socket to watch). */
  const connectionOf = (id: string) => [...server.connections].find((c) => c.id === id) as (DeadlineConnection & { _socket?: Socket }) | undefined;
  await ctx.settings.refresh();
  const listenerLog = ctx.log.child({ frontend: 'smtp', mode: opts.mode });
  /** A connection's log lines carry smtp-server's session id (SMTP opens no store session). */
  // one child logger per connection, not one per command (each command logs at debug)
  const sessionLogs = new WeakMap<SMTPServerSession, Log>();
  const logOf = (session: SMTPServerSession): Log => {
    let log = sessionLogs.get(session);
    if (!log) sessionLogs.set(session, (log = listenerLog.child({ conn: session.id })));
    return log;
  };
  /** The handler's callback, timing the command into mailwarden_command_duration_seconds when it answers. */
  function timed<A extends unknown[]>(command: string, session: SMTPServerSession, cb: (...args: A) => void): (...args: A) => void {
    const started = process.hrtime.bigint();
    return (...args: A) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      ctx.metrics.observeCommand('smtp', command, seconds);
      logOf(session).debug({ command, ms: Math.round(seconds * 1e4) / 10, refused: args[0] instanceof Error ? (args[0] as Error).message : undefined }, 'command');
      cb(...args);
    };
  }

  /** The mailbox each accepted RCPT of port 25 and LMTP resolved to (smtp-server keeps the address objects in the envelope). */
  const rcptUsers = new WeakMap<SMTPServerAddress, User>();

  /**
   * Delivers an accepted message to the local recipients of the envelope, in one store commit,
   * and says per envelope recipient (in RCPT order) what happened: a "2.0.0 …" text or a refusal.
   * The mailboxes are those RCPT found (one user lookup per recipient, not two); a mailbox
   * removed since makes the store refuse the write, and then every recipient is resolved again,
   * so that a removed one gets its 550 and the others their copy.
   */
  async function deliverInbound(sender: string, rcpts: SMTPServerAddress[], message: Buffer, trace: string, folder: '\\Inbox' | '\\Junk' = '\\Inbox'): Promise<{ replies: Array<string | SmtpReply>; overQuota: User[] }> {
    const known = rcpts.map((a): Recipient | undefined => {
      const user = rcptUsers.get(a);
      return user && { kind: 'local', address: a.address, user };
    });
    const resolveAll = () => Promise.all(rcpts.map((a) => resolveRecipient(ctx, a.address)));
    let resolved = known.every(Boolean) ? (known as Recipient[]) : await resolveAll();
    const usersOf = (rs: Recipient[]) => rs.flatMap((r) => (r.kind === 'local' ? [r.user] : []));
    let out;
    try {
      out = await deliverLocal(ctx, sender, usersOf(resolved), message, undefined, folder, trace);
    } catch (err) {
      if (!(err instanceof StoreError) || resolved !== known) throw err;
      resolved = await resolveAll();
      out = await deliverLocal(ctx, sender, usersOf(resolved), message, undefined, folder, trace);
    }
    const full = new Set(out.overQuota.map((u) => u.id));
    const replies = resolved.map((r) => {
      const a = oneLine(r.address);
      if (r.kind !== 'local') return reply(550, '5.1.1', `<${a}>: no such mailbox here`);
      if (full.has(r.user.id)) return reply(452, '4.2.2', `<${a}>: Mailbox full`);
      return `2.0.0 <${a}> delivered`;
    });
    return { replies, overQuota: out.overQuota };
  }

  const server: SMTPServer = new SMTPServer({
    secure: opts.implicitTls,
    key: ctx.tls.key,
    cert: ctx.tls.cert,
    SNICallback: ctx.tls.SNICallback,
    name: ctx.computer,
    banner: 'Mailwarden',
    lmtp,
    logger: false,
    // Reverse DNS would delay every greeting; Received: shows the address literal instead.
    disableReverseLookup: true,
    size: ctx.settings.int('SmtpSettings.MaxMessageSize'),
    rejectOversized: true,
    maxRecipients: ctx.settings.int('SmtpSettings.MaxRecipients'),
    maxCommandLength: MAX_COMMAND_LENGTH,
    socketTimeout: SOCKET_TIMEOUT_MS,
    closeTimeout: CLOSE_GRACE_MS,
    hideENHANCEDSTATUSCODES: false,
    hideSMTPUTF8: false,
    hide8BITMIME: false,
    hidePIPELINING: false,
    // RFC 3461 everywhere. Submission: the queue keeps NOTIFY/RET/ENVID/ORCPT and passes them on
    // (or reports itself). Port 25 and LMTP deliver only locally, so this server is the final
    // delivery agent: it sends the "delivered" notices NOTIFY=SUCCESS asks for (README, DSN).
    hideDSN: false,
    // Port 25 and LMTP offer no AUTH at all: passwords are for the submission ports, and a
    // password guesser on the MX port gets nothing to guess at.
    disabledCommands: submission ? [] : ['AUTH'],
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !submission,
    allowInsecureAuth: false,
    authRequiredMessage: '5.7.0 Authentication required',

    onConnect(session, cb) {
      logOf(session).debug({ client: session.remoteAddress, tls: opts.implicitTls }, 'connection opened');
      const tlsPending = submission && !opts.implicitTls;
      withEnhancedCodes(server, session.id, tlsPending);
      // RFC 4954 4 / Postfix's smtpd_tls_auth_only: AUTH is neither offered nor taken in clear text.
      if (tlsPending) session.disabledCommands = ['AUTH'];
      settle(logOf(session), async () => {
        // Settings apply live: each connection sees the values in force when it arrived.
        await ctx.settings.refresh();
        server.options.size = ctx.settings.int('SmtpSettings.MaxMessageSize');
        server.options.maxRecipients = ctx.settings.int('SmtpSettings.MaxRecipients');
        const limit = ctx.settings.int('SmtpSettings.MaxConnectionFromSingleIP');
        const ip = normaliseClientAddress(session.remoteAddress);
        const n = perIp.get(ip) ?? 0;
        if (n >= limit) {
          ctx.metrics.recordConnectionRefusal('smtp', 'SmtpSettings.MaxConnectionFromSingleIP');
          logOf(session).info({ client: ip, setting: 'SmtpSettings.MaxConnectionFromSingleIP', count: n, limit }, 'connection refused');
          throw reply(421, '4.7.0', `Too many connections from ${ip}: ${n} of ${limit} in use (SmtpSettings.MaxConnectionFromSingleIP)`);
        }
        const max = ctx.settings.int('SmtpSettings.MaxConnections');
        if (admitted.size >= max) {
          bitten(session, 'SmtpSettings.MaxConnections', `${admitted.size} of ${max} connections in use`);
          throw reply(421, '4.7.0', `Too many connections: ${admitted.size} of ${max} in use (SmtpSettings.MaxConnections); try again later`);
        }
        perIp.set(ip, n + 1);
        admitted.add(session.id);
        const conn = connectionOf(session.id);
        if (conn) {
          const d = new SmtpDeadlines(conn, {
            commandMs: () => ctx.settings.int('SmtpSettings.CommandTimeout') * 1000,
            dataMs: () => ctx.settings.int('SmtpSettings.DataTimeout') * 1000,
            onBite: (setting, seconds) => bitten(session, setting, `not completed within ${seconds} seconds`),
          });
          if (conn._socket) d.watch(conn._socket);
          deadlines.set(session.id, d);
        }
      }, cb);
    },

    onSecure(socket, session, cb) {
      if (submission) session.disabledCommands = [];
      // STARTTLS: from now on the TLS socket carries the commands (implicit TLS: already watched)
      if (!opts.implicitTls) deadlines.get(session.id)?.watch(socket);
      cb();
    },

    onClose(session) {
      deadlines.get(session.id)?.stop();
      deadlines.delete(session.id);
      if (!admitted.delete(session.id)) return;
      const ip = normaliseClientAddress(session.remoteAddress);
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    },

    onAuth(auth, session, answer) {
      const cb = timed('AUTH', session, answer);
      void (async () => {
        const identity = auth.username ?? '';
        // RFC 4616 authzid: acting for another user is not supported (refused before any password check).
        if (auth.authzid && auth.authzid.toLowerCase() !== identity.toLowerCase()) return cb(reply(535, '5.7.8', 'Authorization identity must match'));
        const r = await logon(ctx, { kind: 'smtp', identity, password: auth.password ?? '', clientAddress: session.remoteAddress, log: logOf(session) });
        if (!r.ok) {
          const a = LOGON_ANSWERS[r.refusal.kind].smtp(r.refusal);
          return cb(reply(a.code, a.enhanced, a.text));
        }
        cb(null, { user: r.user });
      })().catch((err: Error) => cb(reply(454, '4.7.0', `Temporary authentication failure: ${oneLine(err.message)}`)));
    },

    onMailFrom(address, session, cb) {
      settle(logOf(session), async () => {
        if (submission) requireUser(session);
        const malformed = rawDsnProblem(address);
        if (malformed) throw malformed;
        checkEnvid(session.envelope.dsn?.envid);
        if (!submission) return;
        const user = requireUser(session);
        const owner = address.address.includes('@') ? await ctx.store.findUser(address.address) : null;
        if (owner?.id !== user.id) throw reply(553, '5.7.1', `Sender address <${oneLine(address.address)}> is not one of ${user.address}'s addresses`);
      }, timed('MAIL', session, cb));
    },

    onRcptTo(address: SMTPServerAddress, session, cb) {
      settle(logOf(session), async () => {
        if (submission) requireUser(session);
        const malformed = rawDsnProblem(address);
        if (malformed) throw malformed;
        checkOrcpt(address.dsn?.orcpt);
        const a = address.address;
        if (!/^[^@\s]+@[^@\s]+$/.test(a)) throw reply(553, '5.1.3', `<${oneLine(a)}>: a full address (local-part@domain) is required`);
        const r = await resolveRecipient(ctx, a);
        if (r.kind === 'unknown-local') throw reply(550, '5.1.1', `<${oneLine(a)}>: no such mailbox here`);
        if (r.kind === 'remote') {
          if (!submission) throw reply(554, '5.7.1', `<${oneLine(a)}>: Relay access denied`);
          return;
        }
        if (!(await hasRoom(ctx, r.user, declaredSize(session)))) throw reply(452, '4.2.2', `<${oneLine(a)}>: Mailbox full`);
        rcptUsers.set(address, r.user);
      }, timed('RCPT', session, cb));
    },

    onData(stream, session, answer) {
      const cb = timed('DATA', session, answer);
      const deadline = deadlines.get(session.id);
      deadline?.dataStarted();
      void (async () => {
        const raw = await readMessage(stream, spool, ctx.settings.int(INPUT_BUDGET_SETTING)).finally(() => deadline?.dataEnded());
        if (!raw) throw reply(552, '5.3.4', `Message size exceeds fixed maximum message size of ${server.options.size} bytes`);
        const env = session.envelope;
        const sender = env.mailFrom ? env.mailFrom.address : '';
        const rcpts = env.rcptTo.map((r) => r.address);
        const trace = receivedHeader(ctx, {
          helo: session.hostNameAppearsAs || '', clientHostname: session.clientHostname, clientIp: session.remoteAddress,
          protocol: session.transmissionType, id: `${session.id}.${session.transaction}`, recipients: rcpts,
        });
        if (submission) {
          await submitMessage(ctx, requireUser(session), { from: sender, to: rcpts, raw, saveToSent: false, dsn: queueDsnOf(env) }, trace);
          return '2.6.0 Message accepted';
        }
        let authHeader = '';
        let folder: '\\Inbox' | '\\Junk' = '\\Inbox';
        let body = raw;
        if (opts.mode === 'mx' && ctx.settings.bool('SmtpSettings.InboundAuthentication')) {
          body = withoutOurResults(raw, ctx.computer);
          try {
            const check = await checkInbound(ctx, { raw: body, ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', sender });
            // per message: at debug when it changes nothing (the header in the message says it);
            // a reject or a Junk delivery is worth a line at info
            const level = check.verdict === 'deliver' ? 'debug' : 'info';
            logOf(session)[level]({ ...check.results, verdict: check.verdict, sender }, 'inbound authentication');
            if (check.verdict === 'reject') throw reply(550, '5.7.1', check.reason);
            authHeader = check.header;
            if (check.verdict === 'junk') folder = '\\Junk';
          } catch (err) {
            if (err instanceof SmtpReply) throw err;
            // a library fault must not lose mail: delivered without the header, and logged
            logOf(session).error({ err }, 'inbound authentication checks failed; delivered without Authentication-Results');
          }
        }
        // RFC 8601 5: Authentication-Results above the trace line of the server that checked
        const { replies, overQuota } = await deliverInbound(sender, env.rcptTo, body, authHeader + trace, folder);
        // LMTP: one reply per RCPT, in order (RFC 2033 4.2); the client bounces or retries each.
        if (!lmtp && !replies.some((r) => typeof r === 'string')) {
          throw overQuota.length ? reply(452, '4.2.2', 'Mailbox full') : reply(450, '4.2.1', 'Recipient mailboxes unavailable; try again later');
        }
        // RFC 3461 notices. SMTP has one reply for all recipients: some have the message, so it
        // is accepted and the sender learns about the full mailboxes from a DSN. LMTP: the
        // client got a reply per recipient and reports the failures itself; only the success
        // notices come from here, the final delivery agent.
        const delivered: string[] = [];
        const failed: Array<{ recipient: string; status: string; diagnostic: string }> = [];
        replies.forEach((r, i) => {
          const recipient = env.rcptTo[i]!.address;
          if (typeof r === 'string') delivered.push(recipient);
          else if (!lmtp) failed.push({ recipient, status: r.enhanced, diagnostic: r.toString() });
        });
        const dsn = queueDsnOf(env);
        if (dsn || failed.length) {
          await notifyLocalOutcome(ctx, { sender, original: Buffer.concat([Buffer.from(authHeader + trace), body]), dsn, delivered, failed });
        }
        if (lmtp) return replies;
        return '2.6.0 Message accepted';
      })().then(
        (accepted) => cb(null, accepted as string),
        (err: Error) => {
          // a client that went away mid-DATA is not a fault of ours (its spool file is gone already)
          if ((err as NodeJS.ErrnoException).code === 'ECONNECTION') logOf(session).info({ err: err.message }, 'message cut off by the client');
          else if (!(err instanceof SmtpReply)) logOf(session).error({ err }, 'message refused');
          cb(err instanceof SmtpReply ? err : reply(451, '4.3.0', 'Temporary local problem; message not accepted, try again later'));
        },
      );
    },
  });

  checkDsnXtext();
  useFastDataScan();
  // The early-talker pause (smtp-server's 100 ms) only where spam software talks first: port 25.
  setGreetingDelay(server, () => (opts.mode === 'mx' ? ctx.settings.int('SmtpSettings.GreetingDelay') : 0));
  acceptProxyProtocol(server.server, opts.proxy, (peer, reason) => listenerLog.warn({ peer, reason }, 'PROXY header refused'));
  server.on('error', (err) => listenerLog.error({ err }, 'listener error'));
  // smtp-server upgrades sockets itself (implicit TLS and STARTTLS): its default context is renewed here
  const stopFollowing = ctx.tls.onChange(() => server.updateSecureContext({ key: ctx.tls.key, cert: ctx.tls.cert }));
  await new Promise<void>((resolve, reject) => {
    const netServer = server.server;
    netServer.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      netServer.off('error', reject);
      resolve();
    });
  });
  // port 25 checks every message with mailauth, whose modules take seconds to load on a busy
  // machine: load them now, before the first client, not during the first delivery
  if (opts.mode === 'mx') setImmediate(() => void preloadInboundChecks());
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    name: listenerName,
    host: opts.host,
    port,
    implicitTls: opts.implicitTls,
    close: () => {
      stopFollowing();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
