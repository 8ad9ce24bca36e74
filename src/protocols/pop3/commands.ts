import { TLSSocket } from 'node:tls';
import { LOGON_ANSWERS, OBJECT_LIMIT_ANSWERS, pop3Line } from '../../access/answers.js';
import { logon as logonPipeline } from '../../access/logon.js';
import { TooManyObjectsOpened } from '../../governor/errors.js';
import { dotStuff, topOfMessage } from '../shared/dot-stuff.js';
import { Maildrop } from './maildrop.js';
import type { Pop3Session } from './session.js';

export type Pop3State = 'AUTHORIZATION' | 'TRANSACTION';

interface Pop3Command {
  states: Pop3State[];
  run(s: Pop3Session, arg: string): Promise<void> | void;
}

/** Parses a POP3 message-number argument; RFC 1939 numbers are decimal, 1-based. */
function msgNumber(arg: string): number | null {
  return /^[0-9]{1,9}$/.test(arg.trim()) ? Number(arg.trim()) : null;
}

/** Looks up a message for RETR/LIST/…, answering the right -ERR itself when there is none. */
function requireMessage(s: Pop3Session, arg: string) {
  const n = msgNumber(arg);
  if (n === null) {
    s.badCommand('-ERR Invalid message number');
    return null;
  }
  const md = s.maildrop!;
  if (md.isDeleted(n)) {
    s.send(`-ERR Message ${n} is deleted`);
    return null;
  }
  const m = md.get(n);
  if (!m) {
    s.send(`-ERR No message ${n} (${md.stat().count} in maildrop)`);
    return null;
  }
  return { n, m };
}

function capabilities(s: Pop3Session): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'LOGIN-DELAY 0'];
  if (s.state === 'AUTHORIZATION') {
    if (s.plaintextAllowed) caps.push('USER', 'SASL PLAIN');
    if (!s.secure) caps.push('STLS');
  }
  caps.push('IMPLEMENTATION Mailwarden');
  return caps;
}

/**
 * Logs on through the access pipeline (src/access/logon.ts) and answers from the one table
 * (answers.ts): a wrong password leaves the connection open, a refusal by a limit closes it.
 */
async function logon(s: Pop3Session, identity: string, password: string): Promise<void> {
  const { ctx } = s;
  const r = await logonPipeline(ctx, { kind: 'pop3', identity, password, clientAddress: s.clientAddress, log: s.logger });
  if (!r.ok) {
    const a = LOGON_ANSWERS[r.refusal.kind].pop3(r.refusal);
    if (a.close) s.close(pop3Line(a));
    else s.send(pop3Line(a));
    return;
  }
  // the client may have left while the password was checked: adopt closes the session then
  if (!(await s.adopt(r.session!))) return;
  s.user = r.user;
  try {
    s.maildrop = await Maildrop.open(ctx.store, r.user.id);
  } catch (err) {
    s.close(`-ERR [SYS/TEMP] Server Unavailable. 21: cannot open the maildrop (${(err as Error).message})`);
    return;
  }
  s.state = 'TRANSACTION';
  s.authenticated();
  const { count, size } = s.maildrop.stat();
  s.send(`+OK ${r.user.address} has ${count} messages (${size} octets)`);
}

function plaintextRefused(s: Pop3Session): boolean {
  if (s.plaintextAllowed) return false;
  s.send('-ERR [AUTH] Plaintext authentication is disallowed without TLS (PopSettings.LoginType is SecureLogin); use STLS');
  return true;
}

export const COMMANDS: Record<string, Pop3Command> = {
  CAPA: {
    states: ['AUTHORIZATION', 'TRANSACTION'],
    run: (s) => s.sendBlock('+OK Capability list follows', Buffer.from(capabilities(s).join('\r\n') + '\r\n')),
  },
  NOOP: { states: ['TRANSACTION'], run: (s) => s.send('+OK') },
  QUIT: {
    states: ['AUTHORIZATION', 'TRANSACTION'],
    async run(s) {
      if (s.state === 'TRANSACTION' && s.maildrop) {
        const removed = await s.maildrop.commit();
        s.close(`+OK Mailwarden POP3 server signing off (${removed} messages deleted)`);
        return;
      }
      s.close('+OK Mailwarden POP3 server signing off');
    },
  },
  STLS: {
    states: ['AUTHORIZATION'],
    run(s) {
      if (s.secure) return s.send('-ERR Already using TLS');
      s.send('+OK Begin TLS negotiation');
      const plain = s.socket;
      s.detach();
      const tls = new TLSSocket(plain, { isServer: true, secureContext: s.ctx.tls.contextFor(), SNICallback: s.ctx.tls.SNICallback });
      s.attach(tls);
    },
  },
  USER: {
    states: ['AUTHORIZATION'],
    run(s, arg) {
      if (plaintextRefused(s)) return;
      if (!arg.trim()) return s.badCommand('-ERR USER needs a mailbox name');
      s.pendingUser = arg.trim();
      s.send('+OK Send your password');
    },
  },
  PASS: {
    states: ['AUTHORIZATION'],
    async run(s, arg) {
      if (plaintextRefused(s)) return;
      if (!s.pendingUser) return s.badCommand('-ERR Send USER first');
      const identity = s.pendingUser;
      s.pendingUser = null;
      await logon(s, identity, arg);
    },
  },
  AUTH: {
    states: ['AUTHORIZATION'],
    async run(s, arg) {
      const [mech, initial] = arg.trim().split(/\s+/, 2);
      if (!mech) return s.sendBlock('+OK SASL mechanisms follow', Buffer.from(s.plaintextAllowed ? 'PLAIN\r\n' : ''));
      if (mech.toUpperCase() !== 'PLAIN') return s.send(`-ERR Unsupported SASL mechanism ${mech.slice(0, 20)}`);
      if (plaintextRefused(s)) return;
      const finish = async (b64: string) => {
        if (b64 === '*') return s.send('-ERR AUTH cancelled');
        const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
        if (parts.length !== 3) return s.send('-ERR [AUTH] Malformed SASL PLAIN response');
        const [authzid, authcid, password] = parts;
        if (authzid && authzid.toLowerCase() !== authcid.toLowerCase()) return s.send('-ERR [AUTH] Proxy authorisation is not supported');
        await logon(s, authcid, password);
      };
      if (initial && initial !== '=') return finish(initial);
      s.send('+ ');
      s.continuation = finish;
    },
  },
  STAT: {
    states: ['TRANSACTION'],
    run(s) {
      const { count, size } = s.maildrop!.stat();
      s.send(`+OK ${count} ${size}`);
    },
  },
  LIST: {
    states: ['TRANSACTION'],
    async run(s, arg) {
      if (arg.trim()) {
        const hit = requireMessage(s, arg);
        if (hit) s.send(`+OK ${hit.n} ${hit.m.size}`);
        return;
      }
      const md = s.maildrop!;
      const lines = [...md.live()].map(([n, m]) => `${n} ${m.size}\r\n`).join('');
      const { count, size } = md.stat();
      await s.sendBlock(`+OK ${count} messages (${size} octets)`, Buffer.from(lines));
    },
  },
  UIDL: {
    states: ['TRANSACTION'],
    async run(s, arg) {
      const md = s.maildrop!;
      if (arg.trim()) {
        const hit = requireMessage(s, arg);
        if (hit) s.send(`+OK ${hit.n} ${md.uniqueId(hit.m)}`);
        return;
      }
      await s.sendBlock('+OK Unique-ID listing follows', Buffer.from([...md.live()].map(([n, m]) => `${n} ${md.uniqueId(m)}\r\n`).join('')));
    },
  },
  RETR: {
    states: ['TRANSACTION'],
    async run(s, arg) {
      const hit = requireMessage(s, arg);
      if (!hit) return;
      await withMessageObject(s, async () => {
        const raw = await s.maildrop!.read(hit.m);
        await s.sendBlock(`+OK ${hit.m.size} octets`, dotStuff(raw));
      });
    },
  },
  TOP: {
    states: ['TRANSACTION'],
    async run(s, arg) {
      const [num, lines] = arg.trim().split(/\s+/);
      const count = msgNumber(lines ?? '');
      if (count === null) return s.badCommand('-ERR TOP needs a message number and a line count');
      const hit = requireMessage(s, num ?? '');
      if (!hit) return;
      await withMessageObject(s, async () => {
        const raw = await s.maildrop!.read(hit.m);
        await s.sendBlock('+OK Top of message follows', dotStuff(topOfMessage(raw, count)));
      });
    },
  },
  DELE: {
    states: ['TRANSACTION'],
    run(s, arg) {
      const hit = requireMessage(s, arg);
      if (!hit) return;
      s.maildrop!.markDeleted(hit.n);
      s.send(`+OK Message ${hit.n} deleted`);
    },
  },
  RSET: {
    states: ['TRANSACTION'],
    run(s) {
      s.maildrop!.reset();
      const { count, size } = s.maildrop!.stat();
      s.send(`+OK Maildrop has ${count} messages (${size} octets)`);
    },
  },
};

/** RETR/TOP open a message object: the per-session objtMessage limit applies. */
async function withMessageObject(s: Pop3Session, fn: () => Promise<void>): Promise<void> {
  try {
    await s.storeSession!.withObject('objtMessage', fn);
  } catch (err) {
    if (err instanceof TooManyObjectsOpened) return s.send(pop3Line(OBJECT_LIMIT_ANSWERS.pop3(err)));
    throw err;
  }
}
