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

/**
 * The member a session client's command is ordered through: its state machine (the workload may
 * build a command from it, as the server builds an Authenticate from its own state after a read
 * barrier) and the origin the state machines will see for the command (the member under a
 * Byzantine protocol, whose quorum clients order it; '' under a crash-fault one, which passes none).
 */
export interface OrderingMember<R> {
  readonly sm: StateMachine<R> | null;
  readonly origin: string;
}

/** What kind of client a workload's client number is: a member's caller (a session client) or a Byzantine protocol's own client. */
export type ClientKind = 'member' | 'quorum';

/** One operation a client runs, as the workload made it. */
export interface WorkloadOp {
  /** What the trace prints. */
  readonly label: string;
  /** A read the leader-model client serves by a read barrier and a local read, not through the log. */
  readonly localRead: boolean;
  /** A read a quorum-model client may send as a read-only request (answered by 2f + 1 matching replies). */
  readonly readOnly: boolean;
  /**
   * A command built from the ordering member's state (see Workload.command's `at`): the member
   * passes a read barrier first, as the server does before it reads its state for an Authenticate.
   */
  readonly afterBarrier?: boolean;
}

export interface Workload<Op extends WorkloadOp, R> {
  readonly name: string;
  createStateMachine(): StateMachine<R>;
  encodeResult(result: R): Uint8Array;
  decodeResult(bytes: Uint8Array): R;
  /**
   * A client's next operation: a read when `readsOnly` (a reader client's read, or the final
   * reads); `finalReads` in the final-reads phase (Jepsen's final reads), when only reads are asked.
   */
  next(random: Random, client: number, readsOnly: boolean, finalReads?: boolean): Op;
  /**
   * The command that carries `op` under the client's session; `at`: the member that orders it
   * (session clients only: a Byzantine protocol's own clients order their commands themselves).
   */
  command(op: Op, session: SessionTag, at?: OrderingMember<R>): Uint8Array;
  /** Told of every client before the run starts (a workload may give clients roles by kind). */
  useClient?(client: number, kind: ClientKind): void;
  /**
   * A command for a Byzantine replica to order as its own client (a lie at the state machine's
   * level, see AdversaryContext.liarCommand), with session sequence number `seq`; null: none.
   */
  liarCommand?(random: Random, seq: number): Uint8Array | null;
  /** Serve a read from a member's state machine after its read barrier. */
  readLocal(sm: StateMachine<R>, op: Op): R;
  /**
   * The history entries of a finished operation (several when one operation touches several
   * keys, such as a lease revoke). `result` is set for `ok`.
   */
  record(op: Op, client: number, outcome: 'ok' | 'unknown', result: R | undefined, invokedAt: number, completedAt: number, nextId: () => number): Operation[];
}
