/**
 * The devices of the ActiveSync Ping benchmark (bench/activesync.ts), held from worker threads:
 * BENCH_EAS_CLIENTS threads (2 by default, the machine's cores), each with its share of the
 * devices on keep-alive TLS connections of its own. Why: 10,000 phones are 10,000 clients on as
 * many machines; here they share the server's two cores, so whatever the client spends reading an
 * answer is time the measurement takes from the server. One client thread reading 10,000 TLS
 * answers was slower than the server writing them; two threads on `https.request` still spent
 * ≈ 250 µs of CPU an answer (IncomingMessage, the HTTP parser, a WBXML decode) — more than the
 * server. So a device here is a lean HTTP/1.1 client of its own (`pingOnce`): one
 * `tls.connect`, the Ping written as bytes built once, the answer read into a buffer the thread
 * reuses, recognised from its status line and Content-Length alone and timed when its last byte
 * is in; the WBXML Status is checked after the measurement, from the bytes kept. Answer times are process.hrtime (CLOCK_MONOTONIC: the same
 * in every thread and process).
 */
import { Agent, request } from 'node:https';
import { connect, createSecureContext, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { OnReadOpts } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { decode, el, encode, childText } from '../src/protocols/activesync/wbxml/codec.js';
import { nowMs } from './lib/stats.js';

export const PASSWORD = 'bench-pw';

export interface PingDevice {
  user: string;
  deviceId: string;
  inbox: string;
}

export function post(port: number, agent: Agent, user: string, deviceId: string, cmd: string, body: Buffer | undefined): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, method: 'POST', agent, rejectUnauthorized: false,
      path: `/Microsoft-Server-ActiveSync?Cmd=${cmd}&User=${encodeURIComponent(user)}&DeviceId=${deviceId}&DeviceType=Bench`,
      headers: {
        authorization: `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}`, 'ms-asprotocolversion': '14.1',
        ...(body ? { 'content-type': 'application/vnd.ms-sync.wbxml', 'content-length': String(body.length) } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

type ToWorker = { round: number; devices: PingDevice[] } | { end: true };
type FromWorker = { round: number; failure: string } | { round: number; answered: number[] } | { round: number; error: string };

export interface HeldPings {
  /** Connection failures tried again so far, by kind. */
  failures: Map<string, number>;
  /** Every device's answer time (hrtime ms), sorted, once all have answered (Status 2). */
  answered: Promise<number[]>;
}

/**
 * The benchmark's phones: `threads` worker threads that hold rounds of Pings. The same threads
 * serve every round, so a warm-up round leaves the client's code as optimised as the server's
 * (each thread is a V8 isolate whose JIT warms on its own).
 */
export class PingClients {
  private readonly workers: Worker[];
  private round = 0;
  private readonly rounds = new Map<number, { failures: Map<string, number>; settle: Array<(r: { answered?: number[]; error?: string }) => void> }>();
  private readonly exited: Promise<void>;

  constructor(port: number, threads: number) {
    this.workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: { easPinger: true, port } }));
    const ended: Array<Promise<void>> = [];
    for (const w of this.workers) {
      w.on('message', (m: FromWorker) => {
        const r = this.rounds.get(m.round);
        if (!r) return;
        if ('failure' in m) r.failures.set(m.failure, (r.failures.get(m.failure) ?? 0) + 1);
        else r.settle.shift()?.('answered' in m ? { answered: m.answered } : { error: m.error });
      });
      // a thread that fails or ends with a round still waiting fails that round, rather than
      // leaving the benchmark waiting for answers that will not come
      const failRounds = (why: string) => {
        for (const r of this.rounds.values()) for (const s of r.settle.splice(0)) s({ error: why });
      };
      w.on('error', (err) => failRounds(`Ping client thread failed: ${err.message}`));
      ended.push(new Promise((resolve) => w.once('exit', (code) => {
        failRounds(`Ping client thread exited (${code}) before every Ping answered`);
        resolve();
      })));
    }
    this.exited = Promise.all(ended).then(() => undefined);
  }

  /** Sends every device's Ping, spread over the threads; the Pings stay held until a change. */
  hold(devices: PingDevice[]): HeldPings {
    const round = ++this.round;
    const failures = new Map<string, number>();
    const parts = this.workers.map((_, i) => devices.filter((_, d) => d % this.workers.length === i)).map((part, i) => ({ part, w: this.workers[i]! })).filter((p) => p.part.length);
    const settle: Array<(r: { answered?: number[]; error?: string }) => void> = [];
    this.rounds.set(round, { failures, settle });
    const answered = Promise.all(parts.map(({ part, w }) => new Promise<number[]>((resolve, reject) => {
      settle.push((r) => (r.answered ? resolve(r.answered) : reject(new Error(r.error))));
      w.postMessage({ round, devices: part } satisfies ToWorker);
    }))).then((all) => all.flat().sort((a, b) => a - b)).finally(() => this.rounds.delete(round));
    answered.catch(() => undefined); // the caller awaits it later; a failure meanwhile is not unhandled
    return { failures, answered };
  }

  /** Closes every connection and ends the threads. */
  async close(): Promise<void> {
    for (const w of this.workers) w.postMessage({ end: true } satisfies ToWorker);
    await this.exited;
  }
}

/** An HTTP answer as the lean client keeps it: status, body bytes, and when its last byte came in. */
export interface PingAnswer {
  status: number;
  body: Buffer;
  at: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

/**
 * The pre-built bytes of one device's Ping request (HTTP/1.1, keep-alive, as a phone sends it).
 */
export function pingRequestBytes(port: number, d: PingDevice): Buffer {
  const body = encode(el('Ping', 'Ping', [el('Ping', 'HeartbeatInterval', '1800'), el('Ping', 'Folders', [el('Ping', 'Folder', [el('Ping', 'Id', d.inbox), el('Ping', 'Class', 'Email')])])]));
  const head = `POST /Microsoft-Server-ActiveSync?Cmd=Ping&User=${encodeURIComponent(d.user)}&DeviceId=${d.deviceId}&DeviceType=Bench HTTP/1.1\r\n` +
    `Host: 127.0.0.1:${port}\r\n` +
    `Authorization: Basic ${Buffer.from(`${d.user}:${PASSWORD}`).toString('base64')}\r\n` +
    'MS-ASProtocolVersion: 14.1\r\n' +
    'Content-Type: application/vnd.ms-sync.wbxml\r\n' +
    `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/**
 * Reads one HTTP/1.1 answer from bytes as they come: null until the whole answer (head and
 * Content-Length bytes of body) is in. Only what the measurement needs: the status code and the
 * body; an answer without Content-Length (chunked) is an error, since the server sends none.
 * `chunk` may be a view on a read buffer that is reused: what is kept is copied.
 */
class AnswerReader {
  private kept: Buffer | null = null;

  push(chunk: Buffer): { status: number; body: Buffer } | null {
    // the usual case: the whole answer in one chunk (one TLS record), only the body copied
    const buf = this.kept ? Buffer.concat([this.kept, chunk]) : chunk;
    const headEnd = buf.indexOf(HEAD_END);
    if (headEnd < 0) return this.keep(buf);
    const head = buf.toString('latin1', 0, headEnd);
    const length = CONTENT_LENGTH.exec(head);
    if (!length) throw new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`);
    const bodyEnd = headEnd + 4 + Number(length[1]);
    if (buf.length < bodyEnd) return this.keep(buf);
    this.kept = null;
    return { status: Number(head.slice(9, 12)), body: Buffer.from(buf.subarray(headEnd + 4, bodyEnd)) };
  }

  private keep(buf: Buffer): null {
    this.kept = Buffer.from(buf);
    return null;
  }
}

/**
 * What every connection of a thread shares, as a phone's TLS stack is set up once, not per
 * request: the TLS context (one per connection cost ≈ 0.2 ms of CPU each and left a heap for the
 * GC to clear during the wake) and the buffer the answers are read into (`onread`: no stream
 * machinery, no Buffer per read).
 */
const secureContext = createSecureContext();
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/** One device's connection: sends its Ping on connect, resolves with the answer (timed on arrival). */
function pingOnce(port: number, request: Buffer): Promise<PingAnswer> {
  return new Promise((resolve, reject) => {
    const reader = new AnswerReader();
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      socket.destroy();
      reject(err);
    };
    const onRead = (n: number, buf: Uint8Array): boolean => {
      if (done) return true;
      let answer: ReturnType<AnswerReader['push']>;
      try {
        answer = reader.push(Buffer.from(buf.buffer, buf.byteOffset, n));
      } catch (err) {
        fail(err as Error);
        return true;
      }
      if (!answer) return true;
      const at = nowMs();
      done = true;
      // kept open, as a phone keeps its connection for the next Ping; closed when the run ends
      connections.push(socket);
      resolve({ ...answer, at });
      return true;
    };
    // tls.connect takes net's `onread` (Node ≥ 15), which its types do not list
    const options: ConnectionOptions & { onread: OnReadOpts } = { host: '127.0.0.1', port, rejectUnauthorized: false, secureContext, onread: { buffer: readBuffer, callback: onRead } };
    const socket: TLSSocket = connect(options, () => socket.write(request));
    socket.on('error', fail);
    socket.on('close', () => fail(Object.assign(new Error('connection closed before the answer'), { code: 'ECLOSED' })));
  });
}

/** Answered connections, kept open as phones keep theirs, closed when the client ends. */
const connections: TLSSocket[] = [];

async function pinger(port: number, round: number, devices: PingDevice[]): Promise<void> {
  // a connection the loaded machine refuses or drops while it is being set up is tried again,
  // as a phone would (up to 5 times); the kinds of failure are reported
  const held = async (d: PingDevice): Promise<PingAnswer> => {
    const bytes = pingRequestBytes(port, d);
    for (let attempt = 1; ; attempt++) {
      try {
        return await pingOnce(port, bytes);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        parentPort!.postMessage({ round, failure: code } satisfies FromWorker);
        if (attempt === 5) throw err;
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  };
  const answers: Array<Promise<PingAnswer>> = [];
  let sent = 0;
  for (const d of devices) {
    const a = held(d);
    a.catch(() => undefined); // reported by Promise.all below, not as unhandled
    answers.push(a);
    if (++sent % 100 === 0) await new Promise((r) => setTimeout(r, 50)); // let the handshakes through
  }
  try {
    const all = await Promise.all(answers);
    // the check, after the measurement: every answer an HTTP 200 with Ping Status 2 (changes)
    all.forEach((a, i) => {
      const status = a.status === 200 ? childText(decode(a.body), 'Status') : undefined;
      if (status !== '2') throw new Error(`Ping of ${devices[i]!.deviceId} answered ${a.status} status ${status}`);
    });
    parentPort!.postMessage({ round, answered: all.map((a) => a.at) } satisfies FromWorker);
  } catch (err) {
    parentPort!.postMessage({ round, error: (err as Error).message } satisfies FromWorker);
  }
}

if (!isMainThread && (workerData as { easPinger?: boolean } | null)?.easPinger) {
  const { port } = workerData as { port: number };
  parentPort!.on('message', (m: ToWorker) => {
    if ('end' in m) {
      for (const s of connections) s.destroy();
      parentPort!.close();
      return;
    }
    void pinger(port, m.round, m.devices);
  });
}
