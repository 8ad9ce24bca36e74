/**
 * The devices of the ActiveSync Ping benchmark (bench/activesync.ts), held from worker threads:
 * BENCH_EAS_CLIENTS threads (2 by default, the machine's cores), each with its share of the
 * devices on keep-alive HTTPS connections of its own. Why: 10,000 phones are 10,000 clients; one
 * client thread reading 10,000 TLS answers was slower than the server writing them (the server had
 * written its last answer 2 s before that thread had read it, at 2,000 devices), so it measured
 * itself. Answer times are process.hrtime (CLOCK_MONOTONIC: the same in every thread and process).
 */
import { Agent, request } from 'node:https';
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

type FromWorker = { failure: string } | { answered: number[] } | { error: string };

export interface HeldPings {
  /** Connection failures tried again so far, by kind. */
  failures: Map<string, number>;
  /** Every device's answer time (hrtime ms), sorted, once all have answered (Status 2). */
  answered: Promise<number[]>;
}

/** Sends every device's Ping from `threads` worker threads; the Pings stay held until a change. */
export function holdPings(port: number, devices: PingDevice[], threads: number): HeldPings {
  const failures = new Map<string, number>();
  const parts = Array.from({ length: threads }, (_, i) => devices.filter((_, d) => d % threads === i)).filter((p) => p.length);
  const answered = Promise.all(parts.map((part) => new Promise<number[]>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { easPinger: true, port, devices: part } });
    w.on('message', (m: FromWorker) => {
      if ('failure' in m) failures.set(m.failure, (failures.get(m.failure) ?? 0) + 1);
      else if ('answered' in m) resolve(m.answered);
      else reject(new Error(m.error));
    });
    w.on('error', reject);
    w.on('exit', (code) => reject(new Error(`Ping client thread exited (${code}) before every Ping answered`)));
  }))).then((all) => all.flat().sort((a, b) => a - b));
  answered.catch(() => undefined); // the caller awaits it later; a failure meanwhile is not unhandled
  return { failures, answered };
}

async function pinger(port: number, devices: PingDevice[]): Promise<void> {
  // keep-alive, as phones do: an answered Ping leaves its connection open for the next one
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });
  const pingBody = (inbox: string) => encode(el('Ping', 'Ping', [el('Ping', 'HeartbeatInterval', '1800'), el('Ping', 'Folders', [el('Ping', 'Folder', [el('Ping', 'Id', inbox), el('Ping', 'Class', 'Email')])])]));
  // a connection the loaded machine refuses or drops while it is being set up is tried again,
  // as a phone would (up to 5 times); the kinds of failure are reported
  const pingOnce = async (d: PingDevice): Promise<{ status: number; body: Buffer }> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await post(port, agent, d.user, d.deviceId, 'Ping', pingBody(d.inbox));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        parentPort!.postMessage({ failure: code } satisfies FromWorker);
        if (attempt === 5) throw err;
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  };
  const answered: Array<Promise<number>> = [];
  let sent = 0;
  for (const d of devices) {
    answered.push(pingOnce(d).then((r) => {
      const at = nowMs();
      const status = childText(decode(r.body), 'Status');
      if (status !== '2') throw new Error(`Ping of ${d.deviceId} answered ${r.status} status ${status}`);
      return at;
    }));
    answered[answered.length - 1]!.catch(() => undefined); // reported by Promise.all below, not as unhandled
    if (++sent % 100 === 0) await new Promise((r) => setTimeout(r, 50)); // let the handshakes through
  }
  try {
    parentPort!.postMessage({ answered: await Promise.all(answered) } satisfies FromWorker);
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).message } satisfies FromWorker);
  }
  agent.destroy();
}

if (!isMainThread && (workerData as { easPinger?: boolean } | null)?.easPinger) {
  const { port, devices } = workerData as { port: number; devices: PingDevice[] };
  await pinger(port, devices);
}
