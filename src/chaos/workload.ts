/**
 * What a chaos workload is to the harness: clients started against the members' etcd endpoints,
 * stopped, their history saved and checked by the workload's own checker (linearizability for
 * the register, Elle-style cycles for list-append, delivery for watches, holders for locks).
 * The harness knows nothing else of it; a workload joins by one entry in CHAOS_WORKLOADS
 * (src/chaos/workloads.ts).
 */
import type { Random } from '../core/prng.js';

/** How the operations ended, for the table. `notSent`: never left the client (not in the history). */
export interface Outcomes {
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly notSent: number;
}

/** An operation as the report's latency timeline draws it. */
export interface TimedOperation {
  readonly invokedAt: number;
  /** +Infinity for an unknown outcome. */
  readonly completedAt: number;
  readonly outcome: 'ok' | 'fail' | 'unknown';
}

/** valid: the checker found nothing; invalid: an anomaly; unknown: the checker gave up. */
export type ChaosVerdict = 'valid' | 'invalid' | 'unknown';

export interface WorkloadCheck {
  readonly verdict: ChaosVerdict;
  /** The verdict in the checker's own words, for the table: "linearizable", "G-single, G2", ... */
  readonly summary: string;
  /** Operations the checker judged. */
  readonly operations: number;
  /** Markdown: the anomalies with their operations (empty when valid). */
  readonly details: string;
}

export interface WorkloadContext {
  /** The members' client endpoints (host:port), one per member, in member order. */
  readonly endpoints: readonly string[];
  readonly clients: number;
  readonly keys: number;
  /** Drawn from for the workload's choices (the run's seed). */
  readonly random: Random;
  /** The run's clock (ms since its start), the one faults are timed on. */
  readonly now: () => number;
  readonly log: (line: string) => void;
}

export interface ChaosWorkload {
  /** Start the clients. */
  start(): void;
  /** Let the operations in flight end, then close every connection. */
  stop(): Promise<void>;
  counts(): Outcomes;
  /** When the clients stopped at the workload's cap on operations (run clock), or null. */
  readonly cappedAt: number | null;
  /** The cap, for the report's words. */
  readonly maxOperations: number;
  /** Every recorded operation, for the timeline and the "ok after heal" count. */
  timed(): readonly TimedOperation[];
  /** Write the history (and anything the checker needs to be run again) into `dir`; each file named in Markdown, with how to check it again. */
  save(dir: string): string[];
  /** Judge the history. May take a while (bounded by `timeoutMs`). */
  check(timeoutMs: number): WorkloadCheck;
  /** What the outcome counts are made of, in words. */
  legend(): string;
}

export interface WorkloadDefinition {
  readonly name: string;
  readonly summary: string;
  readonly make: (ctx: WorkloadContext) => ChaosWorkload;
}
