import dgram from 'node:dgram';

/**
 * A DNS server on 127.0.0.1 for tests (RFC 1035 over UDP, answers only, no recursion): the
 * records the test puts in `zone` are the whole Internet. Unknown names get NXDOMAIN, known
 * names without that type an empty NOERROR answer. Enough for c-ares (Node's dns.Resolver)
 * and mailauth's lookups: A, AAAA, MX, TXT, CNAME-free.
 */
export interface ZoneRecords {
  A?: string[];
  AAAA?: string[];
  MX?: Array<{ preference: number; exchange: string }>;
  /** Each record is one or more character-strings (at most 255 bytes each; longer ones are cut up). */
  TXT?: Array<string | string[]>;
}

const TYPES: Record<number, keyof ZoneRecords> = { 1: 'A', 28: 'AAAA', 15: 'MX', 16: 'TXT' };

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function readName(msg: Buffer, pos: number): { name: string; end: number } {
  const labels: string[] = [];
  for (;;) {
    const len = msg[pos];
    if (len === 0) return { name: labels.join('.').toLowerCase(), end: pos + 1 };
    labels.push(msg.subarray(pos + 1, pos + 1 + len).toString('latin1'));
    pos += 1 + len;
  }
}

function ipv6Bytes(a: string): Buffer {
  const [head, tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function rdata(type: keyof ZoneRecords, value: unknown): Buffer {
  switch (type) {
    case 'A':
      return Buffer.from((value as string).split('.').map(Number));
    case 'AAAA':
      return ipv6Bytes(value as string);
    case 'MX': {
      const mx = value as { preference: number; exchange: string };
      const p = Buffer.alloc(2);
      p.writeUInt16BE(mx.preference);
      return Buffer.concat([p, encodeName(mx.exchange)]);
    }
    case 'TXT': {
      const parts = typeof value === 'string' ? (value.match(/[^]{1,255}/g) ?? ['']) : (value as string[]);
      return Buffer.concat(parts.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])));
    }
  }
}

export class TestDns {
  readonly zone = new Map<string, ZoneRecords>();
  /** Questions asked, "TYPE name", for tests that check what was looked up. */
  readonly asked: string[] = [];
  private socket = dgram.createSocket('udp4');
  port = 0;

  set(name: string, records: ZoneRecords): void {
    this.zone.set(name.toLowerCase().replace(/\.$/, ''), { ...this.zone.get(name.toLowerCase()), ...records });
  }

  async start(): Promise<this> {
    this.socket.on('message', (msg, from) => {
      try {
        this.socket.send(this.answer(msg), from.port, from.address);
      } catch {
        // a malformed question gets no answer
      }
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
    this.port = this.socket.address().port;
    return this;
  }

  /** For `dns.servers` in the config / Resolver#setServers. */
  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  private answer(q: Buffer): Buffer {
    const id = q.readUInt16BE(0);
    const { name, end } = readName(q, 12);
    const qtype = q.readUInt16BE(end);
    const question = q.subarray(12, end + 4);
    const type = TYPES[qtype];
    this.asked.push(`${type ?? qtype} ${name}`);
    const records = this.zone.get(name);
    const values = (records && type ? (records[type] as unknown[] | undefined) : undefined) ?? [];
    const answers = values.map((v) => {
      const data = rdata(type!, v);
      const fixed = Buffer.alloc(10);
      fixed.writeUInt16BE(qtype, 0);
      fixed.writeUInt16BE(1, 2); // IN
      fixed.writeUInt32BE(60, 4); // TTL
      fixed.writeUInt16BE(data.length, 8);
      return Buffer.concat([encodeName(name), fixed, data]);
    });
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, opcode 0, AA, RD copied, RA; RCODE 3 (NXDOMAIN) for an unknown name
    header.writeUInt16BE(0x8400 | (q.readUInt16BE(2) & 0x0100) | 0x0080 | (records ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, question, ...answers]);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
