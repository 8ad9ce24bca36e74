import type { ServerContext } from '../server/context.js';
import type { QueueEntry } from '../store/types.js';
import { sendDsnSafely, type DsnReport } from './dsn.js';
import { recipientDsn, wantsNotice } from './dsn-params.js';
import { signOutbound } from './dkim-sign.js';
import { sendOnce, type Outcome } from './smtp-send.js';
import { deliverByMx } from './mx-delivery.js';

export interface OutboundQueue {
  stop(): Promise<void>;
  /** One pass over the due entries; resolves when a pass that started after the call ended. */
  runNow(): Promise<void>;
}

const runners = new WeakMap<object, () => void>();

/** Asks the running queue (if any) to try now: a fresh submission should not wait for the poll. */
export function wakeOutboundQueue(ctx: Pick<ServerContext, 'store'>): void {
  runners.get(ctx)?.();
}

/** Hands one entry to the smart host and says what happened to each recipient. */
async function relay(ctx: ServerContext, entry: QueueEntry, raw: Buffer): Promise<Map<string, Outcome>> {
  const smart = ctx.config.smtp.smartHost!;
  const r = await sendOnce({
    host: smart.host, port: smart.port, name: ctx.computer,
    secure: smart.tls === 'implicit', requireTLS: smart.tls === 'starttls', ignoreTLS: smart.tls === 'none',
    auth: smart.user ? { user: smart.user, pass: smart.password ?? '' } : undefined,
    tls: { servername: smart.host, ...(smart.ca ? { ca: smart.ca } : {}) },
  }, entry.sender, entry.recipients, raw, entry.dsn);
  if (r instanceof Map) return r;
  return new Map(entry.recipients.map((x) => [x, { kind: 'temp', reply: r.unreachable }]));
}

function statusOf(reply: string, fallback: string): string {
  return /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply)?.[1] ?? fallback;
}

/** The queue's clock; tests inject one to see a retry schedule (and its delay notice) through without waiting. */
export type QueueClock = () => Date;

/** One delivery attempt of one entry, with its bookkeeping: events, retry time, DSNs, removal. */
async function attempt(ctx: ServerContext, entry: QueueEntry, clock: QueueClock): Promise<void> {
  const { store, events } = ctx;
  const attemptNo = entry.attempts + 1;
  const recipientsText = entry.recipients.join(', ');
  const user = entry.sender || null;
  let raw: Buffer;
  try {
    raw = await store.readBlob(entry.blobHash);
  } catch (err) {
    await store.removeQueueEntry(entry.id);
    await events.write('deliveryFailed', [entry.id, entry.sender, recipientsText, `message content missing: ${(err as Error).message}`], user).catch(() => undefined);
    return;
  }
  // Signed at each attempt, not at submission: a key activated or rotated meanwhile applies,
  // and the signature's time (t=) is the sending time.
  const signed = await signOutbound(ctx, raw);
  // The smart host when one is configured, else each recipient domain's MX (RFC 5321 5.1).
  const smart = ctx.config.smtp.smartHost;
  const { outcomes, via } = smart ? { outcomes: await relay(ctx, entry, signed), via: [`${smart.host}:${smart.port}`] } : await deliverByMx(ctx, entry.sender, entry.recipients, signed, entry.dsn);
  const ok = entry.recipients.filter((r) => outcomes.get(r)!.kind === 'ok');
  const perm = entry.recipients.filter((r) => outcomes.get(r)!.kind === 'perm');
  const temp = entry.recipients.filter((r) => outcomes.get(r)!.kind === 'temp');
  const replyOf = (r: string) => outcomes.get(r)!.reply ?? '250 2.0.0 accepted';
  const smartName = via.join(', ') || '-';
  ctx.metrics.countDelivery('relayed', ok.length);
  ctx.metrics.countDelivery('failed', perm.length);
  if (ok.length) await events.write('relayed', [entry.id, entry.sender, ok.join(', '), smartName], user).catch(() => undefined);

  const now = clock();
  // What every DSN of this entry carries from the submission (RFC 3461 ENVID, RET, ORCPT).
  const notice = { sender: entry.sender, original: raw, arrivalDate: entry.createdAt, envid: entry.dsn?.envid, ret: entry.dsn?.ret, now };
  const report = (r: string, status: string, diagnostic: string): DsnReport => ({ recipient: r, status, diagnostic, orcpt: recipientDsn(entry.dsn, r)?.orcpt });

  // NOTIFY=SUCCESS: a server that offered DSN took the parameters over and reports itself;
  // for one that did not, this is the last word the sender can get (RFC 3461 6.2.2: "relayed").
  const relayedNotices = ok.filter((r) => wantsNotice(entry.dsn, r, 'SUCCESS') && !(outcomes.get(r) as { dsn?: boolean }).dsn);
  if (relayedNotices.length) await sendDsnSafely(ctx, { ...notice, action: 'relayed', reports: relayedNotices.map((r) => report(r, '2.0.0', replyOf(r))) });

  // Retry offsets count from the first attempt (the config's wording); entry.createdAt is when
  // it was queued, and the first attempt follows at once.
  const schedule = ctx.config.smtp.retrySchedule;
  const expired = temp.length > 0 && attemptNo > schedule.length;
  const failures: DsnReport[] = perm.map((r) => report(r, statusOf(replyOf(r), '5.0.0'), replyOf(r)));
  if (expired) {
    ctx.metrics.countDelivery('failed', temp.length);
    for (const r of temp) failures.push(report(r, statusOf(replyOf(r), '4.4.7'), `${replyOf(r)} (gave up after ${attemptNo} attempts)`));
  }
  if (failures.length) {
    // NOTIFY=NEVER (or a NOTIFY without FAILURE): the sender asked for no bounce.
    const bounced = failures.filter((f) => wantsNotice(entry.dsn, f.recipient, 'FAILURE'));
    if (bounced.length) await sendDsnSafely(ctx, { ...notice, action: 'failed', reports: bounced });
    await events.write('deliveryFailed', [entry.id, entry.sender, failures.map((f) => f.recipient).join(', '), failures.map((f) => `${f.recipient}: ${f.diagnostic}`).join('; ')], user).catch(() => undefined);
  }

  if (temp.length === 0 || expired) {
    await store.removeQueueEntry(entry.id);
    return;
  }
  ctx.metrics.countDelivery('deferred', temp.length);
  const lastError = temp.map((r) => `${r}: ${replyOf(r)}`).join('; ').slice(0, 1000);
  // Behind the schedule (the server was down, or the queue long), the entry keeps the schedule's
  // spacing from now instead of being tried at every pass until its offsets run out: a receiver
  // that is down gets the retries the schedule promises, not a burst and then a bounce.
  const due = entry.createdAt.getTime() + schedule[attemptNo - 1]! * 1000;
  const spacing = (schedule[attemptNo - 1]! - (schedule[attemptNo - 2] ?? 0)) * 1000;
  const nextAttempt = new Date(Math.max(due, now.getTime() + spacing));
  // NOTIFY=DELAY: one "delayed" DSN, at the first attempt past the threshold.
  let delayNotified = entry.delayNotified;
  const waited = now.getTime() - entry.createdAt.getTime();
  if (!delayNotified && waited >= ctx.config.smtp.delayNotificationAfter * 1000) {
    const delayed = temp.filter((r) => wantsNotice(entry.dsn, r, 'DELAY'));
    if (delayed.length) {
      const willRetryUntil = new Date(entry.createdAt.getTime() + schedule[schedule.length - 1] * 1000);
      await sendDsnSafely(ctx, { ...notice, action: 'delayed', willRetryUntil, reports: delayed.map((r) => report(r, statusOf(replyOf(r), '4.0.0'), replyOf(r))) });
      delayNotified = true;
    }
  }
  if (temp.length === entry.recipients.length) {
    await store.updateQueueEntry(entry.id, { attempts: attemptNo, nextAttempt, lastError, delayNotified });
  } else {
    // Only the deferred recipients stay queued. The store keeps recipients per entry, so
    // they move to a new entry (same stored bytes, same DSN parameters) before the old one goes.
    const rest = await store.enqueue(entry.sender, temp, raw, entry.submittedBy, entry.dsn);
    await store.updateQueueEntry(rest.id, { attempts: attemptNo, nextAttempt, lastError, delayNotified });
    await store.removeQueueEntry(entry.id);
  }
  await events.write('deliveryDeferred', [entry.id, entry.sender, temp.join(', '), attemptNo, lastError], user).catch(() => undefined);
}

/** Entries attempted at the same time (Postfix's default_destination_concurrency_limit is 20). */
const CONCURRENT_ATTEMPTS = 10;

/**
 * The outbound queue runner: polls for due entries and sends them (smart host or MX), up to
 * CONCURRENT_ATTEMPTS at once. Passes never overlap (one chain) and an entry is taken once per
 * pass, so an entry is never sent twice by this process.
 */
export function startOutboundQueue(ctx: ServerContext, opts: { pollMs?: number; clock?: QueueClock } = {}): OutboundQueue {
  const clock = opts.clock ?? (() => new Date());
  let stopped = false;
  let chain: Promise<void> = Promise.resolve();
  let pending: Promise<void> | null = null;

  const pass = async () => {
    const seen = new Set<number>();
    for (;;) {
      const due = (await ctx.store.dueQueueEntries(clock())).filter((e) => !seen.has(e.id));
      if (due.length === 0 || stopped) return;
      for (const e of due) seen.add(e.id);
      // Several entries at once (each its own connection): one slow or dead receiver must not
      // hold up the rest, and a connection's round trips overlap with others' work.
      let next = 0;
      const worker = async () => {
        while (next < due.length && !stopped) {
          const e = due[next++];
          try {
            await attempt(ctx, e, clock);
          } catch (err) {
            // A store failure on one entry must not stop the others; the entry stays due.
            ctx.log.error({ err, queueId: e.id }, 'outbound queue: attempt failed; the entry stays due');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENT_ATTEMPTS, due.length) }, worker));
    }
  };

  const runNow = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (pending) return pending;
    const p = chain.then(() => {
      pending = null;
      return pass();
    });
    pending = p;
    chain = p.catch(() => undefined);
    return p;
  };
  const wake = () => void runNow().catch(() => undefined);
  runners.set(ctx, wake);
  const timer = setInterval(wake, opts.pollMs ?? 5_000);
  timer.unref();
  wake();

  return {
    runNow,
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (runners.get(ctx) === wake) runners.delete(ctx);
      await chain;
    },
  };
}

// ---- admin (the CLI's `queue` commands)

export function listQueue(ctx: Pick<ServerContext, 'store'>): Promise<QueueEntry[]> {
  return ctx.store.listQueue();
}

/** Makes the entry due now, keeping its attempt count; false when there is no such entry. */
export async function retryQueueEntry(ctx: Pick<ServerContext, 'store'>, id: number): Promise<boolean> {
  const entry = (await ctx.store.listQueue()).find((e) => e.id === id);
  if (!entry) return false;
  await ctx.store.updateQueueEntry(id, { attempts: entry.attempts, nextAttempt: new Date(), lastError: entry.lastError });
  wakeOutboundQueue(ctx);
  return true;
}

/** Drops the entry without a DSN (an administrator's decision); false when there is none. */
export function deleteQueueEntry(ctx: Pick<ServerContext, 'store'>, id: number): Promise<boolean> {
  return ctx.store.removeQueueEntry(id);
}
