import net from 'node:net';
import { SMTPServer } from 'smtp-server';

/** What a receiving MTA saw of one transaction, RFC 3461 parameters included (when it offered DSN). */
export interface Received {
  to: string[];
  raw: Buffer;
  secure: boolean;
  ret: string | null;
  envid: string | null;
  rcpt: Record<string, { notify?: string[]; orcpt?: string } | undefined>;
}

/**
 * A receiving MTA for the outbound tests, on one loopback address (127.0.0.N) and a shared port.
 * `refuse` answers a recipient with a code. STARTTLS is offered with `tls` (none without it);
 * `dsn` makes its EHLO offer DSN (RFC 3461).
 */
export class LoopbackReceiver {
  got: Received[] = [];
  refuse: (rcpt: string) => { code: number; text: string } | null = () => null;
  private server: SMTPServer | null = null;
  constructor(readonly address: string, private readonly opts: { tls?: { key: string; cert: string }; dsn?: boolean } = {}) {}

  async up(port: number): Promise<void> {
    const tls = this.opts.tls;
    this.server = new SMTPServer({
      authOptional: true, logger: false, disableReverseLookup: true, hideENHANCEDSTATUSCODES: false,
      ...(tls ? { key: tls.key, cert: tls.cert } : { hideSTARTTLS: true }), hideDSN: !this.opts.dsn,
      onRcptTo: (a, _s, cb) => {
        const r = this.refuse(a.address);
        cb(r ? Object.assign(new Error(r.text), { responseCode: r.code }) : undefined);
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const env = session.envelope;
          this.got.push({
            to: env.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks), secure: session.secure,
            ret: env.dsn?.ret ?? null, envid: env.dsn?.envid ?? null,
            rcpt: Object.fromEntries(env.rcptTo.map((r) => [r.address, r.dsn])),
          });
          cb();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.server.once('error', reject);
      this.server!.listen(port, this.address, () => resolve());
    });
  }

  down(): Promise<void> {
    const s = this.server;
    this.server = null;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}

/** A port free on every loopback address a test uses (its receivers share one port, as MX hosts share 25). */
export async function freePortOn(addresses: string[]): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, addresses[0], () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const ok = await Promise.all(addresses.map((a) => new Promise<boolean>((resolve) => {
      const s = net.createServer().once('error', () => resolve(false)).listen(port, a, () => s.close(() => resolve(true)));
    })));
    if (ok.every(Boolean)) return port;
  }
}
