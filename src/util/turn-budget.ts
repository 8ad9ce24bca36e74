import { performance } from 'node:perf_hooks';

/**
 * Keeps one event-loop turn short: work past a budget per turn waits for later turns, in arrival
 * order. The web server admits requests through it (`admit`); the IMAP server pauses its
 * sessions between commands and between the lines of a long response (`pause`).
 *
 * Web first, why: the HTTPS listener saturated, new connections were starved by busy keep-alive ones.
 *
 * Why: libuv (≥ 1.45, so Node 20) accepts ONE connection per loop turn (libuv PR #3696), and a
 * TLS handshake needs a few more turns. Without a bound, a turn runs the request of every
 * keep-alive connection that has one ready (each request's SQLite work is synchronous), so a
 * turn lasts (ready requests × service time) and the k-th waiting connection is accepted only
 * after k such turns: with 100 busy connections at 4 ms per request, seconds. Measured with
 * autocannon (100 connections opened at once): every request slower than 1 s was a
 * connection's first one, finishing one after another in accept order.
 *
 * How: requests start at once while the current turn has spent less than `budgetMs` on them
 * and nobody waits; otherwise they wait in arrival order and start one per later turn (from a
 * setImmediate, i.e. after the poll phase that accepts connections, reads sockets and runs
 * handshakes). Throughput is unchanged (the same work, plus one non-blocking epoll per request);
 * what changes is who goes first.
 */
export class TurnBudget {
  private turnStart = 0;
  private inTurn = false;
  private readonly waiting: Array<() => void> = [];
  private pumping = false;

  /** `clock` is performance.now; tests hand in their own so that scheduling, not CPU speed, decides. */
  constructor(
    private readonly budgetMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Calls `start` now when this turn has budget left and nobody waits, else in a later turn (FIFO). */
  admit(start: () => void): void {
    const now = this.clock();
    if (!this.inTurn) {
      // the first request of this turn; the turn's check phase (setImmediate) closes it
      this.inTurn = true;
      this.turnStart = now;
      setImmediate(this.endTurn);
    }
    if (this.waiting.length === 0 && now - this.turnStart < this.budgetMs) {
      start();
      return;
    }
    this.waiting.push(start);
    if (!this.pumping) {
      this.pumping = true;
      setImmediate(this.pump);
    }
  }

  /**
   * For async work that can stop at this point: null when this turn has budget left and nobody
   * waits (go on at once, no allocation), else a promise that resolves in a later turn, after
   * those already waiting. Why: the continuations of every session whose store answer arrived
   * in one message, or one response of 100,000 lines, would otherwise all run in one turn, and
   * every other client of the process (and every timer) waits for its end.
   */
  pause(): Promise<void> | null {
    const now = this.clock();
    if (!this.inTurn) {
      this.inTurn = true;
      this.turnStart = now;
      setImmediate(this.endTurn);
    }
    if (this.waiting.length === 0 && now - this.turnStart < this.budgetMs) return null;
    return new Promise<void>((resolve) => this.admit(resolve));
  }

  /** Requests waiting for a turn (for tests and metrics). */
  get queued(): number {
    return this.waiting.length;
  }

  private readonly endTurn = (): void => {
    this.inTurn = false;
  };

  /**
   * One waiting request per turn: its synchronous part (and the microtasks after it) run right
   * after this callback; an immediate queued from here runs in the next turn, after its poll phase.
   */
  private readonly pump = (): void => {
    try {
      this.waiting.shift()?.();
    } finally {
      if (this.waiting.length > 0) setImmediate(this.pump);
      else this.pumping = false;
    }
  };
}
