/**
 * Issue 18: ActiveSync push without a worker per device.
 *  - Ping: BENCH_EAS_DEVICES devices (default 2,000; the issue's goal is 10,000) over BENCH_EAS_USERS
 *    users (100), each holding a Ping over its own HTTPS connection; the server's RSS before and with
 *    every Ping held gives the memory per device (socket, TLS state, request, session, ChangeBus
 *    subscription). Then one SMTP message to every user (one transaction, 100 recipients) and the time
 *    from the message's end (after the 100 RCPTs) until every device's Ping has answered (goal < 1 s,
 *    < 100 KB per device). The client keeps its connections alive, as phones do; BENCH_EAS_CLIENTS
 *    threads (2) hold them, each device a lean TLS client of its own (activesync-pinger.ts: the
 *    phones would be on other machines, so what the client spends on the 2 cores is kept small;
 *    the server and the bench raise their open-file limit to what the Pings need).
 *    The server has delivered one message (to a user without devices) before the Pings, as a server
 *    that has run a while has. Besides the client's clock, the server says (wake-timeline.ts) when
 *    it published the changes and wrote the answers, and its main thread's CPU time for each part.
 *  - First sync: a BENCH_EAS_MESSAGES (10,000) Inbox synced from SyncKey 0 with WindowSize 512 by one
 *    device: time, and the server's peak RSS sampled during it.
 * Device state (FolderSync/Sync done) is seeded through the Store API before the server starts, so the
 * load is the Pings themselves. No Dovecot column: Dovecot has no ActiveSync.
 */
import { Agent, request } from 'node:https';
import { PASSWORD, PingClients, post, type PingDevice } from './activesync-pinger.js';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { createUsers, mwTempDir, openSeedStore, putBenchSettings, startMailwarden, type MailwardenProcess } from './lib/mailwarden.js';
import { makeMessages } from './lib/messages.js';
import { formatThreadCpu, readThreadCpu, threadCpuSince } from './lib/thread-cpu.js';
import { log, nowMs, runs, summarise, type BenchOutcome, type BenchResult } from './lib/stats.js';
import { decode, el, encode, child, childText, children } from '../src/protocols/activesync/wbxml/codec.js';

const DEVICES = Number(process.env.BENCH_EAS_DEVICES ?? 2000);
const USERS = Number(process.env.BENCH_EAS_USERS ?? 100);
const MESSAGES = Number(process.env.BENCH_EAS_MESSAGES ?? 10_000);
/** BENCH_EAS_PART=ping or sync runs only that half. */
const PART = process.env.BENCH_EAS_PART ?? 'both';
/** Client threads holding the Pings (activesync-pinger.ts). */
const CLIENT_THREADS = Number(process.env.BENCH_EAS_CLIENTS ?? 2);
/**
 * Devices of the warm-up wake (BENCH_EAS_WARM_DEVICES, 2,000; 0: none), on users of their own:
 * held and woken once before the measured Pings. A server that has run a while has answered
 * Pings before — every heartbeat ends in one — so its answer path is compiled by V8's optimising
 * compiler; the first wake after a start is not: measured, ≈ 200 ms of compiler threads on the
 * 2 cores and the main thread running unoptimised code meanwhile, in both processes (issue 18).
 */
const WARM_DEVICES = Number(process.env.BENCH_EAS_WARM_DEVICES ?? 2000);

/**
 * One SMTP transaction to the server's MX listener (raw, so the client costs nothing measurable);
 * resolves with when the message's end was sent (the clock of the wake-up starts there, not at
 * the 100 RCPT round trips before it) and when the server acknowledged it.
 */
function smtpSend(port: number, rcpts: string[], raw: string): Promise<{ sentAt: number; ackAt: number }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const lines = ['EHLO bench', 'MAIL FROM:<bench@elsewhere.example>', ...rcpts.map((r) => `RCPT TO:<${r}>`), 'DATA'];
    let stage = 0;
    let buf = '';
    let sentAt = 0;
    s.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (/^\d{3}-/.test(line)) continue;
        if (/^[45]/.test(line)) return reject(new Error(`SMTP: ${line}`));
        if (stage < lines.length) s.write(lines[stage++] + '\r\n');
        else if (stage === lines.length) {
          stage++;
          s.write(raw.replace(/\r?\n/g, '\r\n') + '\r\n.\r\n');
          sentAt = nowMs();
        } else {
          s.end('QUIT\r\n');
          resolve({ sentAt, ackAt: nowMs() });
        }
      }
    });
    s.on('error', reject);
  });
}

function openSessions(port: number, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/admin/health', rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve((JSON.parse(text) as { sessions: number }).sessions));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Resolves once the server holds `n` open store sessions (one per held Ping: more Pings held, or
 * answered Pings' sessions closed), as its admin API says. TLS handshakes and logons on a loaded machine:
 * allowed 60 ms a device, at least 5 minutes.
 */
async function waitForHeld(port: number, token: string, n: number, failures: Map<string, number>): Promise<void> {
  const t0 = nowMs();
  for (;;) {
    const open = await openSessions(port, token);
    if (open === n) return;
    if (nowMs() - t0 > Math.max(300_000, n * 60)) throw new Error(`${open} sessions open, waiting for ${n}, after ${Math.round((nowMs() - t0) / 1000)} s (connection failures: ${[...failures].map(([k, c]) => `${c} × ${k}`).join(', ') || 'none'})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function pingRound(): Promise<{ perDeviceKiB: number; wakeMs: number; heldRssMiB: number; baseRssMiB: number; answerCpuUs: number; firstAnswerMs: number; warmDeliveryMs: number; serverAllMs: number }> {
  const tmp = mwTempDir('mw-bench-eas-');
  const store = await openSeedStore(tmp.dataDir);
  await putBenchSettings(store);
  await store.putSetting({ scope: 'server', targetId: 0, name: 'ThrottlingPolicy.EASMaxConcurrency', value: '0' });
  const users = await createUsers(store, Array.from({ length: USERS }, (_, i) => `eas${i}@bench.example`), PASSWORD);
  // a user without devices, for the delivery that warms the server before the measured one
  const [warmUser] = await createUsers(store, ['eas-warm@bench.example'], PASSWORD);
  const seedDevices = async (owners: typeof users, count: number, prefix: string): Promise<PingDevice[]> => {
    const seeded: PingDevice[] = [];
    for (let d = 0; d < count; d++) {
      const u = owners[d % owners.length]!;
      const inbox = await store.getSpecialFolder(u.id, '\\Inbox');
      const deviceId = `${prefix}${d}`;
      await store.upsertDevice({ userId: u.id, deviceId, deviceType: 'Bench' });
      // as after FolderSync and a first Sync: nothing pending
      await store.putDeviceState(u.id, deviceId, `sync:${inbox.mailboxId}`, JSON.stringify({ key: 2, base: await store.changeState(u.id), cursor: 0, pref: { type: 1, truncationSize: 1024 }, replay: null }));
      // and an earlier Ping with the same parameters: a phone re-pings every heartbeat, that is the steady state
      await store.putDeviceState(u.id, deviceId, 'ping', JSON.stringify({ heartbeat: 1800, folders: [inbox.mailboxId] }));
      seeded.push({ user: u.address, deviceId, inbox: inbox.mailboxId });
    }
    return seeded;
  };
  const devices = await seedDevices(users, DEVICES, 'BENCH');
  const jitUsers = WARM_DEVICES > 0 ? await createUsers(store, Array.from({ length: Math.min(USERS, Math.ceil(WARM_DEVICES / 100)) }, (_, i) => `eas-jit${i}@bench.example`), PASSWORD) : [];
  const warmDevices = await seedDevices(jitUsers, WARM_DEVICES, 'JIT');
  await store.close();
  const mw: MailwardenProcess = await startMailwarden(tmp.dataDir, { nofile: (DEVICES + WARM_DEVICES) * 2 + 1000, env: { BENCH_WAKE_TIMELINE: '1' } });
  const clients = new PingClients(mw.port('https')!, CLIENT_THREADS);
  try {
    const port = mw.port('https')!;
    // A server that has run a while has delivered mail before: its first delivery loads the
    // inbound checks' modules (mailauth: seconds on a busy machine), a once-per-process cost that
    // is not what this measures. One message to a user without devices first; its time is logged.
    const warm0 = nowMs();
    await smtpSend(mw.port('smtp')!, [warmUser!.address], 'From: bench@elsewhere.example\nSubject: warm\n\nfirst delivery\n');
    const warmDeliveryMs = nowMs() - warm0;
    log(`activesync: the server's first delivery (one recipient, before the Pings) took ${Math.round(warmDeliveryMs)} ms`);
    // warm the credential cache: one request per user (scrypt once each), on connections of their
    // own (a Ping must not pick up one of these that the server is closing as idle)
    const token = readFileSync(join(tmp.dataDir, 'admin.token'), 'utf8').trim();
    const warm = new Agent({ keepAlive: false });
    for (let i = 0; i < USERS; i += 10) {
      await Promise.all(devices.slice(i, i + 10).map((d) => post(port, warm, d.user, d.deviceId, 'Settings', encode(el('Settings', 'Settings', [el('Settings', 'UserInformation', [el('Settings', 'Get')])])))));
    }
    // memory read after a full collection, as bench/imap.ts reads it: what the connections hold,
    // not the garbage of setting them up
    await mw.collectGarbage();
    const base = mw.memory().rssKiB;
    const pings = clients.hold(devices);
    const failures = pings.failures;
    const t0 = nowMs();
    await waitForHeld(port, token, DEVICES, failures);
    log(`activesync: ${DEVICES} Pings held after ${Math.round(nowMs() - t0)} ms${failures.size ? `; connections tried again: ${[...failures].map(([k, n]) => `${n} × ${k}`).join(', ')}` : ''}`);
    // The collection also settles the setup's GC debt before the wake: 10,000 handshakes and
    // logons leave a heap whose marking V8 would otherwise finish during the wake, on its helper
    // threads (≈ 1 s of their CPU on the 2 cores, measured per thread, against 0.8 s for the main
    // thread's answers). A server whose phones have held their Pings for minutes has no such debt.
    await mw.collectGarbage();
    const heldRss = mw.memory().rssKiB;
    if (warmDevices.length) {
      // The warm-up wake, with the measured Pings held already (so that it runs in the state the
      // measured wake runs in): WARM_DEVICES other devices, from the same client threads, woken by
      // one delivery to their own users. Their connections stay open, idle, as answered phones' do.
      const warmUp = clients.hold(warmDevices);
      await waitForHeld(port, token, DEVICES + warmDevices.length, warmUp.failures);
      const { sentAt } = await smtpSend(mw.port('smtp')!, jitUsers.map((u) => u.address), 'From: bench@elsewhere.example\nSubject: warm-up wake\n\nwake up\n');
      const warmTimes = await warmUp.answered;
      log(`activesync: warm-up wake of ${warmDevices.length} other devices (the answer path's first run since the start): all answered after ${Math.round(warmTimes[warmTimes.length - 1]! - sentAt)} ms`);
      // no full collection after it: it would take the code V8 has just optimised with it
      // (deoptimised for "weak objects", seen with --trace-deopt), and the wake would compile again
      await waitForHeld(port, token, DEVICES, warmUp.failures);
    }
    await mw.wakeTimeline.arm();
    await mw.eventLoopDelay.reset();
    // the client's CPU over the wake (its threads read the answers' TLS and HTTP): on the same two
    // cores as the server, it is part of what the machine has to do before the last Ping is read
    const clientCpu = process.cpuUsage();
    const [serverThreads0, clientThreads0] = [readThreadCpu(mw.pid), readThreadCpu(process.pid)];
    const { sentAt: start, ackAt } = await smtpSend(mw.port('smtp')!, users.map((u) => u.address), 'From: bench@elsewhere.example\nSubject: wake\n\nwake up\n');
    const deliveredMs = ackAt - start;
    const times = await pings.answered;
    const wakeMs = times[times.length - 1]! - start;
    const clientCpuMs = ((u) => (u.user + u.system) / 1000)(process.cpuUsage(clientCpu));
    const [serverThreads, clientThreads] = [threadCpuSince(serverThreads0, readThreadCpu(mw.pid)), threadCpuSince(clientThreads0, readThreadCpu(process.pid))];
    const [tl, delay] = await Promise.all([mw.wakeTimeline.read(), mw.eventLoopDelay.read()]);
    const at = (t: number) => `${Math.round(t - start)} ms`;
    log(`activesync: delivery acknowledged after ${Math.round(deliveredMs)} ms; Pings answered: first ${Math.round(times[0]! - start)} ms, half ${Math.round(times[times.length >> 1]! - start)} ms, all ${Math.round(wakeMs)} ms`);
    // the split: the delivery's own work (to the last change published), the server writing the
    // answers, the client reading them (all from the message's end, one clock for both processes)
    log(`activesync: server side: ${tl.publishes} changes published ${at(tl.firstPublishMs)}–${at(tl.lastPublishMs)}; ${tl.answers} answers written ${at(tl.firstAnswerMs)}–${at(tl.lastAnswerMs)}; ` +
      `server main-thread CPU: delivery ${tl.cpuDeliveryMs.toFixed(0)} ms, answers ${tl.cpuAnswersMs.toFixed(0)} ms (${((tl.cpuAnswersMs * 1000) / tl.answers).toFixed(0)} µs an answer); ` +
      `whole process over the wake ${delay.cpu?.processMs.toFixed(0)} ms; client CPU (all threads) ${clientCpuMs.toFixed(0)} ms; load ${loadavg()[0]!.toFixed(1)}`);
    log(`activesync: the server's collections over the wake (main-thread pauses): ${Object.entries(tl.gc).map(([k, g]) => `${g.count} × ${k} ${g.ms.toFixed(0)} ms`).join(', ') || 'none'}`);
    // which threads took the 2 cores from the message's end to the last answer read (both processes)
    log(`activesync: CPU by thread over the wake: server: ${formatThreadCpu(serverThreads)}; client: ${formatThreadCpu(clientThreads)}`);
    return { perDeviceKiB: (heldRss - base) / DEVICES, wakeMs, heldRssMiB: heldRss / 1024, baseRssMiB: base / 1024, answerCpuUs: (tl.cpuAnswersMs * 1000) / tl.answers, firstAnswerMs: times[0]! - start, warmDeliveryMs, serverAllMs: tl.lastAnswerMs - start };
  } finally {
    await clients.close();
    await mw.stop();
    tmp.cleanup();
  }
}

async function firstSyncRound(): Promise<{ ms: number; peakMiB: number; items: number }> {
  const tmp = mwTempDir('mw-bench-eas-sync-');
  const store = await openSeedStore(tmp.dataDir);
  await putBenchSettings(store);
  const [u] = await createUsers(store, ['sync@bench.example'], PASSWORD);
  const inbox = await store.getSpecialFolder(u!.id, '\\Inbox');
  const msgs = makeMessages(MESSAGES, 2 * 1024, 16 * 1024, 18, 'eas');
  for (let i = 0; i < msgs.length; i += 1000) await store.appendMany(u!.id, inbox.id, msgs.slice(i, i + 1000).map((raw) => ({ raw })));
  await store.close();
  const mw = await startMailwarden(tmp.dataDir);
  try {
    const port = mw.port('https')!;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const fs = await post(port, agent, u!.address, 'SYNC1', 'FolderSync', encode(el('FolderHierarchy', 'FolderSync', [el('FolderHierarchy', 'SyncKey', '0')])));
    const inboxId = children(child(decode(fs.body), 'Changes'), 'Add').find((a) => childText(a, 'Type') === '2')!;
    const id = childText(inboxId, 'ServerId')!;
    let peak = mw.memory().rssKiB;
    const sampler = setInterval(() => (peak = Math.max(peak, mw.memory().rssKiB)), 100);
    const start = nowMs();
    let key = '0';
    let items = 0;
    for (;;) {
      const r = await post(port, agent, u!.address, 'SYNC1', 'Sync', encode(el('AirSync', 'Sync', [el('AirSync', 'Collections', [el('AirSync', 'Collection', [
        el('AirSync', 'SyncKey', key), el('AirSync', 'CollectionId', id), key === '0' ? null : el('AirSync', 'GetChanges'), el('AirSync', 'WindowSize', '512'),
        el('AirSync', 'Options', [el('AirSyncBase', 'BodyPreference', [el('AirSyncBase', 'Type', '1'), el('AirSyncBase', 'TruncationSize', '5120')])]),
      ])])])));
      const c = child(child(decode(r.body), 'Collections'), 'Collection')!;
      key = childText(c, 'SyncKey')!;
      items += children(child(c, 'Commands'), 'Add').length;
      if (!child(c, 'MoreAvailable') && key !== '1') break;
    }
    const ms = nowMs() - start;
    clearInterval(sampler);
    if (items !== MESSAGES) throw new Error(`first sync brought ${items} of ${MESSAGES}`);
    return { ms, peakMiB: Math.max(peak, mw.memory().rssKiB) / 1024, items };
  } finally {
    await mw.stop();
    tmp.cleanup();
  }
}

export async function benchActiveSync(): Promise<BenchOutcome> {
  const n = runs(2);
  const ping = [];
  const sync = [];
  for (let i = 0; i < n; i++) {
    if (PART !== 'sync') {
      log(`activesync: ${DEVICES} devices in Ping over ${USERS} users, round ${i + 1}/${n}`);
      ping.push(await pingRound());
    }
    if (PART !== 'ping') {
      log(`activesync: first sync of ${MESSAGES} messages, round ${i + 1}/${n}`);
      sync.push(await firstSyncRound());
    }
  }
  const results: BenchResult[] = [
    ...(ping.length ? [
      { bench: 'activesync', metric: `memory per device in Ping (${DEVICES} devices)`, unit: 'KiB', better: 'lower', mw: summarise(ping.map((p) => p.perDeviceKiB)), target: '< 100 KB' },
      { bench: 'activesync', metric: `every Ping answered after one delivery to each of ${USERS} users (${DEVICES} devices)`, unit: 'ms', better: 'lower', mw: summarise(ping.map((p) => p.wakeMs)), target: '< 1 s' },
      { bench: 'activesync', metric: `the server's last answer written after that delivery (${DEVICES} devices)`, unit: 'ms', better: 'lower', mw: summarise(ping.map((p) => p.serverAllMs)) },
      { bench: 'activesync', metric: `first Ping answered after that delivery (${DEVICES} devices)`, unit: 'ms', better: 'lower', mw: summarise(ping.map((p) => p.firstAnswerMs)) },
      { bench: 'activesync', metric: `server main-thread CPU per woken Ping answered (${DEVICES} devices)`, unit: 'µs', better: 'lower', mw: summarise(ping.map((p) => p.answerCpuUs)) },
      { bench: 'activesync', metric: `the server's first delivery after start (one recipient; loads the inbound checks)`, unit: 'ms', better: 'lower', mw: summarise(ping.map((p) => p.warmDeliveryMs)) },
    ] satisfies BenchResult[] : []),
    ...(sync.length ? [
      { bench: 'activesync', metric: `first sync of a ${MESSAGES}-message Inbox (WindowSize 512)`, unit: 'ms', better: 'lower', mw: summarise(sync.map((s) => s.ms)) },
      { bench: 'activesync', metric: `server peak RSS during that first sync (${MESSAGES} messages)`, unit: 'MiB', better: 'lower', mw: summarise(sync.map((s) => s.peakMiB)) },
    ] satisfies BenchResult[] : []),
  ];
  return {
    name: 'activesync', results, skipped: ['Dovecot: no ActiveSync (no comparison column)'],
    notes: ping.length === 0 ? [] : [`server RSS: ${ping.map((p) => `${p.baseRssMiB.toFixed(0)} MiB idle → ${p.heldRssMiB.toFixed(0)} MiB with ${DEVICES} Pings held`).join('; ')}`],
  };
}
