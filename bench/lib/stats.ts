/** Small helpers shared by the benchmarks: summaries of repeated runs and result records. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarise(values: number[]): Summary {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

export function median(values: number[]): number {
  return summarise(values).median;
}

/** One line of the results table. `mw`/`dovecot` are absent when that side did not run. */
export interface BenchResult {
  bench: string;
  metric: string;
  unit: string;
  /** Which direction is better, so that the ratio can be read. */
  better: 'higher' | 'lower';
  mw?: Summary;
  dovecot?: Summary;
  target?: string;
  note?: string;
}

export interface BenchOutcome {
  name: string;
  results: BenchResult[];
  /** Printed reasons for what did not run. */
  skipped: string[];
  notes: string[];
}

/** Mailwarden / Dovecot, or undefined when either side is missing. */
export function ratio(r: BenchResult): number | undefined {
  if (!r.mw || !r.dovecot || !Number.isFinite(r.mw.median) || !r.dovecot.median) return undefined;
  return r.mw.median / r.dovecot.median;
}

export function fmt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 10_000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

export function fmtSummary(s: Summary | undefined): string {
  if (!s) return '–';
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}, n=${s.n})`;
}

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Runs how many times (BENCH_RUNS overrides the benchmark's default). */
export function runs(def: number): number {
  const v = Number(process.env.BENCH_RUNS);
  return Number.isInteger(v) && v > 0 ? v : def;
}

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
