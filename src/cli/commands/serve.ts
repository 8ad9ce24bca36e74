import { allowOnly, intFlag, type ParsedArgs } from '../args.js';
import { dataDirOf, redisOf, storeLocationOf } from '../common.js';
import { isPostgresUrl } from '../../server/create-context.js';
import { DEFAULT_PORTS, startServer } from '../../server/serve.js';
import { VERSION } from '../../version.js';
import { relative } from 'node:path';

const DESCRIBE: Record<string, string> = {
  imap: 'IMAP4 (STARTTLS)', imaps: 'IMAP4 over TLS', pop3: 'POP3 (STLS)', pop3s: 'POP3 over TLS', smtp: 'SMTP inbound (STARTTLS)',
  submission: 'SMTP submission (STARTTLS, AUTH)', lmtp: 'LMTP for a mail server in front (Postfix, Exim)', smtps: 'SMTP submission over TLS', https: 'HTTPS web mail /owa, EWS /EWS/Exchange.asmx, ActiveSync /Microsoft-Server-ActiveSync, admin API',
};

/** A URL as it may be printed: without its password. */
function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** --store postgres://… (or MAILWARDEN_STORE): the PostgreSQL store; the data folder keeps this node's own files. */
function storeUrlOf(args: ParsedArgs): string | undefined {
  const location = storeLocationOf(args);
  return isPostgresUrl(location) ? location : undefined;
}

/** mailwarden serve: runs until SIGINT/SIGTERM, then releases every session and exits. */
export async function serveCommand(args: ParsedArgs): Promise<void> {
  allowOnly(args, ['store', 'config', 'redis', 'host', 'imap-port', 'imaps-port', 'pop3-port', 'pop3s-port', 'smtp-port', 'submission-port', 'submissions-port', 'http-port', 'lmtp-port']);
  const location = storeLocationOf(args);
  // the data folder: this node's own files, and its SQLite store unless --store names PostgreSQL
  const dataDir = isPostgresUrl(location) ? dataDirOf(args) : location;
  const server = await startServer({
    dataDir,
    store: storeUrlOf(args),
    configFile: args.flags.get('config'),
    redis: redisOf(args),
    host: args.flags.get('host') ?? '127.0.0.1',
    ports: {
      imap: intFlag(args, 'imap-port', DEFAULT_PORTS.imap),
      imaps: intFlag(args, 'imaps-port', DEFAULT_PORTS.imaps),
      pop3: intFlag(args, 'pop3-port', DEFAULT_PORTS.pop3),
      pop3s: intFlag(args, 'pop3s-port', DEFAULT_PORTS.pop3s),
      smtp: intFlag(args, 'smtp-port', DEFAULT_PORTS.smtp),
      submission: intFlag(args, 'submission-port', DEFAULT_PORTS.submission),
      submissions: intFlag(args, 'submissions-port', DEFAULT_PORTS.submissions),
      http: intFlag(args, 'http-port', DEFAULT_PORTS.http),
      lmtp: intFlag(args, 'lmtp-port', DEFAULT_PORTS.lmtp!),
    },
  });
  const rel = relative(process.cwd(), dataDir) || '.';
  const dataArg = rel.startsWith('..') ? dataDir : rel;
  const storeArg = storeUrlOf(args);
  const storeFlag = storeArg ? `--store ${redactUrl(storeArg)}` : `--data ${dataArg}`;
  const lines = [
    `Mailwarden ${VERSION} serving ${dataDir} (store: ${server.ctx.store.backend}${storeArg ? ' ' + redactUrl(storeArg) : ''}, TLS certificate: ${dataArg}/tls/cert.pem, SHA-256 ${server.ctx.tls.default.fingerprint256})`,
    ...server.listeners.map((l) => `  ${l.name.padEnd(12)} ${l.host}:${l.port}  ${DESCRIBE[l.name] ?? ''}`),
    '',
    'Add a user (in another terminal):',
    `  echo 'choose-a-password' | ./bin/mailwarden user add alice@example.com --password-stdin ${storeFlag}`,
    `Watch sessions:  ./bin/mailwarden sessions list --data ${dataArg}`,
    `Trust the certificate: ./bin/mailwarden tls show --data ${dataArg}`,
    'Stop with Ctrl-C.',
  ];
  // SIGHUP reloads the certificates at once (certbot's deploy hook: systemctl reload mailwarden)
  const reloadCertificates = () => void server.ctx.tls.reload();
  process.on('SIGHUP', reloadCertificates);
  // The handlers go in before the "Stop with Ctrl-C." line: whoever reads it may signal at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', reloadCertificates);
      void server.stop().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write(lines.join('\n') + '\n');
  await stopped;
  process.stdout.write('Mailwarden stopped; all sessions released.\n');
}
