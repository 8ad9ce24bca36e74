import { LineClient } from '../helpers/line-client.js';
import { ApiClient } from '../web/helpers.js';

/** A logon that may be admitted or refused; `close` logs out when it was admitted. */
export interface Logon {
  ok: boolean;
  answer: string;
  close(): Promise<void>;
}

const LONG = 300_000; // a machine at load 30+ (several test suites at once) answers 64 simultaneous logons in minutes

export async function imapLogon(port: number, user: string, password = 'secret-pw'): Promise<Logon> {
  const c = await LineClient.connect(port);
  await c.line(LONG);
  c.send(`a1 LOGIN ${user} ${password}\r\n`);
  let l: string;
  do l = await c.line(LONG);
  while (!l.startsWith('a1 '));
  const ok = l.startsWith('a1 OK');
  return {
    ok, answer: l, client: c,
    async close() {
      if (c.closed) return;
      c.send('a2 LOGOUT\r\n');
      await new Promise<void>((res) => (c.closed ? res() : c.socket.once('close', () => res())));
    },
  } as Logon;
}

export async function pop3Logon(port: number, user: string, password = 'secret-pw'): Promise<Logon> {
  const c = await LineClient.connect(port);
  await c.line(LONG);
  await c.cmd(`USER ${user}`);
  c.send(`PASS ${password}\r\n`);
  const l = await c.line(LONG);
  return {
    ok: l.startsWith('+OK'), answer: l,
    async close() {
      if (c.closed) return;
      c.send('QUIT\r\n');
      await new Promise<void>((res) => (c.closed ? res() : c.socket.once('close', () => res())));
    },
  };
}

export async function webLogon(port: number, user: string, password = 'secret-pw'): Promise<Logon & { api: ApiClient }> {
  const api = new ApiClient(port);
  const r = await api.login(user, password);
  return {
    ok: r.status === 200, answer: `${r.status} ${JSON.stringify(r.json).slice(0, 200)}`, api,
    async close() {
      if (r.status === 200) await api.post('/logout', {});
    },
  };
}

/** An SMTP connection that delivers test messages one transaction at a time (port 25 style, no auth). */
export interface SmtpDeliverer {
  /** One message to `to`; resolves with the server's final reply to the data ("250 …" when accepted). */
  deliver(to: string, subject: string): Promise<string>;
  close(): void;
}

export async function smtpDeliverer(port: number): Promise<SmtpDeliverer> {
  const c = await LineClient.connect(port);
  await c.line(LONG);
  c.send('EHLO test.example\r\n');
  let l: string;
  do l = await c.line(LONG);
  while (!l.startsWith('250 '));
  const expect = async (cmd: string, code: RegExp) => {
    const reply = await c.cmd(cmd);
    if (!code.test(reply)) throw new Error(`${cmd}: ${reply}`);
  };
  return {
    async deliver(to, subject) {
      await expect('MAIL FROM:<sender@example.org>', /^250/);
      await expect(`RCPT TO:<${to}>`, /^250/);
      await expect('DATA', /^354/);
      c.send(`Subject: ${subject}\r\nFrom: sender@example.org\r\nTo: ${to}\r\n\r\n${subject}\r\n.\r\n`);
      return c.line(LONG);
    },
    close() {
      if (!c.closed) c.send('QUIT\r\n');
      c.socket.destroy();
    },
  };
}
