/**
 * Run a range of seeds on several worker threads, and hand the reports back in seed order.
 *
 * Each seed is a Simulation of its own, built from the seed and the options alone, so a seed run
 * on a worker gives the run it gives on the main thread (the same trace hash): a sweep with
 * `jobs` workers prints what it prints with one, only sooner. Workers take one seed at a time
 * (runs differ in length by ten times and more); reports that finish early wait in a reorder
 * buffer until every earlier seed has been handed on, so progress, output and "stop at the first
 * failure" (a caught mutant) are those of the serial loop. The buffer is bounded: no seed is
 * handed out more than maxAhead past the earliest one not yet handed back.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { QuorateError, type ErrorCode } from '../core/errors.js';
import { runSeed, type SeedReport } from './run.js';
import type { SimOptions } from './options.js';

/** Workers at most: beyond any machine's cores, and each holds a simulation's memory. */
export const MAX_SIM_JOBS = 64;

/**
 * Seeds handed out past the earliest one not yet handed back, per worker. Reports that finish
 * while a slower seed runs wait in memory (a kilobyte or two each); past this many the workers
 * wait too, so a sweep of a million seeds behind one slow (or stuck) seed holds at most this
 * many reports per worker, not the rest of the sweep. 64 lets a seed run 64 times longer than
 * the others before a worker idles (runs differ in length by ten times and more).
 */
export const MAX_SEEDS_AHEAD_PER_JOB = 64;

/** How a sweep is spread over its workers; the defaults are the CLI's. */
export interface SeedPoolOptions {
  /** Seeds handed out past the earliest not yet handed back (default MAX_SEEDS_AHEAD_PER_JOB per worker; at least one per worker). */
  readonly maxAhead?: number;
  /** Told when a seed is handed to a worker and when its report comes back (for tests). */
  readonly observe?: (event: 'hand-out' | 'reply', seed: number) => void;
  /** The workers' script (default seed-worker.js; tests give one that fails). */
  readonly workerScript?: URL;
}

/** The default number of workers: the cores this process may use. */
export function defaultSimJobs(): number {
  return Math.max(1, Math.min(MAX_SIM_JOBS, availableParallelism()));
}

/** What a sweep needs of a run: its report without the history (which stays on the worker). */
export type SeedResult = Pick<SeedReport, 'outcome' | 'linearizability' | 'checkMessage' | 'traceHash' | 'stats' | 'trace'>;

/** A message from a worker: one seed's result, or the error its run threw. */
export type WorkerReply =
  | { readonly kind: 'result'; readonly seed: number; readonly result: SeedResult }
  | { readonly kind: 'error'; readonly seed: number; readonly message: string; readonly code: ErrorCode | null; readonly stack: string };

/** Seeds first, first + step, ... (count of them): a range, or a shard's slice of one. */
export interface SeedList {
  readonly first: number;
  readonly step: number;
  readonly count: number;
}

/** The seed at position k of `list`. */
export function seedAt(list: SeedList, k: number): number {
  return list.first + k * list.step;
}

/** The message a worker is given: one seed to run with the sweep's options. */
export interface WorkerTask {
  readonly seed: number;
  readonly options: Partial<SimOptions>;
}

/** One seed's run, as a worker does it (and as the main thread does with one job). */
export function runOne(task: WorkerTask): SeedResult {
  const r = runSeed({ ...task.options, seed: task.seed });
  return { outcome: r.outcome, linearizability: r.linearizability, checkMessage: r.checkMessage, traceHash: r.traceHash, stats: r.stats, trace: r.trace };
}

/** The error a worker reported, as the main thread would have seen it thrown. */
function rebuilt(reply: Extract<WorkerReply, { kind: 'error' }>): Error {
  const err = reply.code === null ? new Error(reply.message) : new QuorateError(reply.code, reply.message);
  err.stack = reply.stack;
  return err;
}

/**
 * The reports of the seeds of `seeds`, in their order. Stop iterating (break) to stop the sweep:
 * the workers are terminated and seeds not yet handed out never run. An error thrown by a seed's
 * run is thrown here when that seed's turn comes, as the serial loop would throw it.
 */
export async function* runSeeds(options: Partial<SimOptions>, seeds: SeedList, jobs: number, pool: SeedPoolOptions = {}): AsyncGenerator<{ seed: number; result: SeedResult }> {
  const total = seeds.count;
  const workers = Math.min(jobs, total);
  const maxAhead = Math.max(workers, pool.maxAhead ?? workers * MAX_SEEDS_AHEAD_PER_JOB);
  const observe = pool.observe ?? (() => {});
  if (workers <= 1) {
    for (let k = 0; k < total; k++) {
      const seed = seedAt(seeds, k);
      yield { seed, result: runOne({ seed, options }) };
    }
    return;
  }
  const threads: Worker[] = [];
  /** Workers with no seed: the window of seeds ahead is full (or every seed is handed out). */
  const idle: Worker[] = [];
  /** Finished seeds (by position in `seeds`) waiting for every earlier one: at most maxAhead with those running. */
  const ready = new Map<number, WorkerReply>();
  let nextToHandOut = 0;
  let nextToYield = 0;
  let wake: (() => void) | null = null;
  let poolError: Error | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const handOut = (worker: Worker): void => {
    if (nextToHandOut >= total) return;
    if (nextToHandOut - nextToYield >= maxAhead) {
      idle.push(worker);
      return;
    }
    const task: WorkerTask = { seed: seedAt(seeds, nextToHandOut++), options };
    observe('hand-out', task.seed);
    worker.postMessage(task);
  };
  try {
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(pool.workerScript ?? new URL('./seed-worker.js', import.meta.url));
      worker.on('message', (reply: WorkerReply) => {
        observe('reply', reply.seed);
        ready.set((reply.seed - seeds.first) / seeds.step, reply);
        handOut(worker);
        notify();
      });
      // A worker that dies (out of memory, a bug outside a run) fails the sweep rather than leaving seeds unrun.
      worker.on('error', (err) => {
        poolError ??= err;
        notify();
      });
      // Any exit: a worker never ends on its own (its port keeps it waiting for seeds), and the
      // listeners are gone before the pool terminates them. One that left with code 0 would
      // otherwise leave its seed unrun and the sweep waiting (or, every worker gone, the process
      // ending with no summary and exit code 0).
      worker.on('exit', (code) => {
        poolError ??= new Error(`a simulation worker exited with code ${code} with seeds still to run`);
        notify();
      });
      threads.push(worker);
      handOut(worker);
    }
    while (nextToYield < total) {
      const reply = ready.get(nextToYield);
      if (reply === undefined) {
        if (poolError !== null) throw poolError;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      ready.delete(nextToYield++);
      // The window moved on by one: a worker waiting for it takes the next seed.
      const waiting = idle.shift();
      if (waiting !== undefined) handOut(waiting);
      if (reply.kind === 'error') throw rebuilt(reply);
      yield { seed: reply.seed, result: reply.result };
    }
  } finally {
    // Listeners first: a terminated worker's exit code is not a failure of the sweep. A worker
    // failing as the sweep ends (when the fault is outside a run every worker fails alike) may
    // still deliver its 'error': it is dropped here, not left to crash the process as an 'error'
    // event with no listener (exit code 1, a sweep's "a seed failed").
    for (const w of threads) {
      w.removeAllListeners();
      w.on('error', () => {});
    }
    await Promise.all(threads.map((w) => w.terminate()));
  }
}
