/**
 * The per-connection input budget (setting `Connection Input Budget Bytes`): how much of a
 * client's input a connection may hold received but not yet consumed — framed commands waiting
 * their turn, inflated COMPRESS output, a POP3 line buffer. Past the budget the connection stops
 * reading (and stops inflating) until the session has consumed half of it, so a client that
 * pipelines, or sends a deflate bomb, without reading our answers costs at most the budget plus
 * the one command being framed (whose own limits — line, literal, message size — bound it).
 * Every front end's input path goes through one of these.
 */
export const INPUT_BUDGET_SETTING = 'Connection Input Budget Bytes';

export class InputBudget {
  private held = 0;
  private stopped = false;

  /** stop() is called when the budget fills, go() when half of it is free again. */
  constructor(readonly limit: number, private readonly stop: () => void, private readonly go: () => void) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  /** True from the moment the budget filled until half of it is free again. */
  get full(): boolean {
    return this.stopped;
  }

  add(n: number): void {
    this.held += n;
    if (!this.stopped && this.held > this.limit) {
      this.stopped = true;
      this.stop();
    }
  }

  remove(n: number): void {
    this.held = Math.max(0, this.held - n);
    if (this.stopped && this.held <= this.limit / 2) {
      this.stopped = false;
      this.go();
    }
  }

  /** Everything held was thrown away (STARTTLS, close). */
  clear(): void {
    this.remove(this.held);
  }
}
