/**
 * A list-append history, as Elle reads it (Kingsbury & Alvaro, "Elle: Inferring Isolation
 * Anomalies from Experimental Observations", VLDB 2020): every operation is a transaction of
 * micro-ops over keys whose values are lists.
 *
 * - `['append', key, value]` appends `value` to the key's list. Appended values are unique per
 *   key across the whole history (the workload draws them from a counter), so every element of a
 *   read names the one transaction that appended it.
 * - `['r', key, list]` reads the key's list; `null` (or `[]`) when the key does not exist. In a
 *   transaction that did not end `ok` the read's value is not known and is ignored.
 *
 * Outcomes: `ok` (committed), `fail` (certainly did not commit: an aborted transaction), and
 * `unknown` (may or may not have committed: a timeout, a crash, no answer by the end).
 */

export type ListValue = number | string;

export type AppendOp = readonly ['append', string, ListValue];
export type ReadOp = readonly ['r', string, readonly ListValue[] | null];
export type MicroOp = AppendOp | ReadOp;

export type TxnOutcome = 'ok' | 'fail' | 'unknown';

export interface Txn {
  /** Unique within the history; printed as T<id>. */
  readonly id: number;
  /** The client (Jepsen "process") that issued it. */
  readonly client: number;
  readonly ops: readonly MicroOp[];
  readonly outcome: TxnOutcome;
  /** Invocation time (ms, or any clock: only order matters). */
  readonly invokedAt: number;
  /** Completion time; +Infinity when the outcome is unknown. */
  readonly completedAt: number;
}

export type ListAppendVerdict = 'valid' | 'invalid' | 'unknown';

/** The anomalies the checker names (Adya's and Elle's names; see check.ts for each). */
export type AnomalyType =
  | 'G0' | 'G1c' | 'G-single' | 'G2'
  | 'G0-realtime' | 'G1c-realtime' | 'G-single-realtime' | 'G2-realtime'
  | 'G1a' | 'G1b' | 'internal' | 'incompatible-order' | 'duplicate-elements' | 'garbage-read' | 'lost';

/** A dependency between two transactions, as the cycle of an anomaly shows it. */
export type EdgeKind = 'ww' | 'wr' | 'rw' | 'realtime';

export interface CycleStep {
  readonly from: Txn;
  readonly kind: EdgeKind;
  /** The key the dependency is over (none for realtime). */
  readonly key?: string;
  readonly to: Txn;
}

export interface Anomaly {
  readonly type: AnomalyType;
  /** The transactions involved (for a cycle: in cycle order). */
  readonly txns: readonly Txn[];
  /** For cycles (G0 … G2-realtime): the edges, the last one returning to the first transaction. */
  readonly cycle?: readonly CycleStep[];
  /** The key concerned (non-cycle anomalies). */
  readonly key?: string;
  /** One line saying what was seen. */
  readonly message: string;
}
