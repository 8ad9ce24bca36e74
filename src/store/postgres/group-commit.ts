/** What a group's commit did for one of its jobs. */
export type GroupOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Group commit for PostgreSQL writes: the jobs that arrive while `maxInFlight` groups are being
 * written and committed go into the next group, one transaction (and one commit's WAL flush) for
 * all of them. A job's promise settles only after its group's transaction has committed (or
 * failed). `commit` gets the jobs in arrival order and answers one outcome per job, in order.
 * (The SQLite store does the same on its writer thread: sqlite/group-commit.ts.)
 */
export class GroupCommitter<J, R> {
  private pending: Array<{ job: J; resolve: (v: R) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly commit: (jobs: J[]) => Promise<Array<GroupOutcome<R>>>,
    private readonly maxInFlight: number,
    private readonly maxJobs: number,
  ) {}

  run(job: J): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every job run so far has settled. */
  idle(): Promise<void> {
    if (!this.inFlight && !this.pending.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || !this.pending.length) return;
    this.scheduled = true;
    // after the jobs that arrive in this turn of the event loop: they join this group
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight >= this.maxInFlight || !this.pending.length) return;
    const group = this.pending.splice(0, this.maxJobs);
    this.inFlight++;
    try {
      const outcomes = await this.commit(group.map((g) => g.job)).catch((error: unknown) => group.map(() => ({ ok: false as const, error })));
      group.forEach((g, i) => {
        const o = outcomes[i]!;
        if (o.ok) g.resolve(o.value);
        else g.reject(o.error);
      });
    } finally {
      this.inFlight--;
      this.schedule();
      if (!this.inFlight && !this.pending.length) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
