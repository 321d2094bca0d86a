/**
 * What clients of a simulation do, and how it reaches the state machine under test: the
 * register workload runs the register map (RegisterKv); the etcd workload runs the MVCC store
 * the server ships (KvStateMachine) with puts, deletes, txns and leases through client sessions.
 * Either way the checker judges each key's history.
 */
import type { Operation } from '../../check/history.js';
import type { Random } from '../../core/prng.js';
import type { StateMachine } from '../../core/replica.js';

/** A client's session tag for one command: retries of one command carry the same tag. */
export interface SessionTag {
  readonly client: number;
  readonly seq: number;
  /** The lowest sequence number the client still waits for (everything below was answered). */
  readonly lowestPending: number;
}

/** One operation a client runs, as the workload made it. */
export interface WorkloadOp {
  /** What the trace prints. */
  readonly label: string;
  /** A read the leader-model client serves by a read barrier and a local read, not through the log. */
  readonly localRead: boolean;
  /** A read a quorum-model client may send as a read-only request (answered by 2f + 1 matching replies). */
  readonly readOnly: boolean;
}

export interface Workload<Op extends WorkloadOp, R> {
  readonly name: string;
  createStateMachine(): StateMachine<R>;
  encodeResult(result: R): Uint8Array;
  decodeResult(bytes: Uint8Array): R;
  /** A client's next operation; `readsOnly` in the final-reads phase (Jepsen's final reads). */
  next(random: Random, client: number, readsOnly: boolean): Op;
  /** The command that carries `op` under the client's session. */
  command(op: Op, session: SessionTag): Uint8Array;
  /** Serve a read from a member's state machine after its read barrier. */
  readLocal(sm: StateMachine<R>, op: Op): R;
  /**
   * The history entries of a finished operation (several when one operation touches several
   * keys, such as a lease revoke). `result` is set for `ok`.
   */
  record(op: Op, client: number, outcome: 'ok' | 'unknown', result: R | undefined, invokedAt: number, completedAt: number, nextId: () => number): Operation[];
}
