import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { TurnBudget } from '../../src/util/turn-budget.js';
import { eventually } from '../helpers/server.js';

/** A clock that only moves when a request "works", so the test does not depend on how busy the machine is. */
function fakeClock() {
  let t = 0;
  return { now: () => t, work: (ms: number) => { t += ms; } };
}

test('requests past the turn budget wait and start in arrival order, one per later turn', async () => {
  const clock = fakeClock();
  const turns = new TurnBudget(5, clock.now);
  const log: string[] = [];
  for (const name of ['a', 'b', 'c', 'd', 'e']) turns.admit(() => { log.push(name); clock.work(3); });
  // a (3 ms) and b (at 3 ms < 5) start at once; c, d, e wait
  assert.deepEqual(log, ['a', 'b']);
  assert.equal(turns.queued, 3);
  // a request admitted later still waits behind those already waiting
  turns.admit(() => log.push('f'));
  assert.deepEqual(log, ['a', 'b']);
  await eventually(() => log.length === 6, 'the queued starts');
  assert.deepEqual(log, ['a', 'b', 'c', 'd', 'e', 'f']);
  assert.equal(turns.queued, 0);
  // with nobody waiting and a fresh turn, a request starts at once again
  await new Promise((r) => setImmediate(r));
  turns.admit(() => log.push('g'));
  assert.deepEqual(log.at(-1), 'g');
});

test('connections waiting in the accept queue are accepted between queued requests, not after all of them', async () => {
  const events: string[] = [];
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    events.push('accept');
    accepted.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const clients: Socket[] = [];
  try {
    const clock = fakeClock();
    const turns = new TurnBudget(5, clock.now);
    for (let i = 0; i < 4; i++) clients.push(connect(port, '127.0.0.1').on('error', () => undefined));
    // net.connect issues connect() on the next tick; on loopback the kernel completes each handshake
    // there, so after it the four connections wait in the accept queue, and libuv accepts one per turn
    process.nextTick(() => {
      for (let i = 0; i < 6; i++) turns.admit(() => { events.push('request'); clock.work(3); });
    });
    await eventually(() => accepted.length === 4 && turns.queued === 0, 'accepts and requests');
    const lastRequest = events.lastIndexOf('request');
    const acceptsBeforeLast = events.slice(0, lastRequest).filter((e) => e === 'accept').length;
    // without the budget all six requests would run in one turn and every accept would come after them
    assert.ok(acceptsBeforeLast >= 3, `accepts interleaved with requests: ${events.join(' ')}`);
  } finally {
    for (const c of clients) c.destroy();
    for (const s of accepted) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('pause: null while the turn has budget, else the work goes on in a later turn, after those already waiting', async () => {
  const clock = fakeClock();
  const turns = new TurnBudget(5, clock.now);
  const log: string[] = [];
  assert.equal(turns.pause(), null);
  clock.work(6);
  // a slice that ran past the budget, and one more behind it: both wait, in order
  const first = turns.pause();
  const second = turns.pause();
  assert.ok(first && second);
  void first.then(() => log.push('first'));
  void second.then(() => log.push('second'));
  // an admitted request waits behind them too
  turns.admit(() => log.push('request'));
  assert.deepEqual(log, []);
  await eventually(() => log.length === 3, 'the paused work to go on');
  assert.deepEqual(log, ['first', 'second', 'request']);
  // a fresh turn with nobody waiting: no pause
  await new Promise((r) => setImmediate(r));
  assert.equal(turns.pause(), null);
});
