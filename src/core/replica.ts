/**
 * The replica contract every protocol core implements, and the `Ready` shape its drivers
 * (the node runtime and the simulator) consume.
 *
 * A core is a pure, deterministic state machine. Input: `tick()`, `step(msg)`, `propose(cmd)`,
 * `readIndex(id)`, `compact(...)`. Output: `ready()`, which says what must be made durable,
 * what must be sent (only after that is durable) and what has committed and must be applied.
 * The driver acknowledges a Ready with `advance(ready)` once it has done all three.
 * Randomness comes from an injected `Random`; time only as ticks.
 */
import type { Random } from './prng.js';
import type { Index, NodeId, Term } from './ids.js';
import { assert } from './assert.js';

/** Every protocol message names its sender and its addressee; drivers route on `to`. */
export interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
}

/** What a log entry carries. `noop` is a new leader's empty entry; `config` a membership change. */
export type EntryKind = 'command' | 'noop' | 'config';

export interface LogEntry {
  readonly index: Index;
  readonly term: Term;
  readonly kind: EntryKind;
  /** Opaque to the core for `command`; an encoded ConfigChange for `config`; empty for `noop`. */
  readonly data: Uint8Array;
  /**
   * Paxos-style cores only: the ballot in which this replica accepted the entry. A value may be
   * accepted again under later ballots; `term` stays the ballot that first proposed it (the
   * value's identity, equal on every replica). Absent for Raft, whose entries keep their term.
   */
  readonly acceptedBallot?: Term;
}

/**
 * A cluster configuration. `outgoingVoters` is non-empty only during a joint configuration
 * (Raft's C_old,new: `voters` is C_new, `outgoingVoters` is C_old). Learners receive the log but
 * never vote and never count towards a quorum.
 *
 * The two optional fields describe a joint configuration further (etcd's ConfChangeV2); absent,
 * they take their defaults, so a Membership written before they existed reads the same:
 * - `learnersNext` (default none): outgoing voters that become learners once the joint
 *   configuration is left (a voter demoted through joint consensus keeps its vote in C_old
 *   until then). Never in `voters` or `learners`; always in `outgoingVoters`.
 * - `autoLeave` (default true): the leader leaves the joint configuration on its own once it is
 *   applied; false: it stays joint until someone proposes leaving it.
 */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly outgoingVoters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly learnersNext?: readonly NodeId[];
  readonly autoLeave?: boolean;
  /**
   * Paxos-style cores only: each member's ballot rank (1-based), fixed for as long as the cluster
   * lives and never given to another member, and the next rank a joining member gets. Absent (a
   * configuration written before them, and every Raft one): the members ranked by sorted position.
   */
  readonly ranks?: Readonly<Record<string, number>>;
  readonly nextRank?: number;
  /**
   * The index this configuration holds at, where that is above the index it travels with: a
   * joining member's starting configuration (the join answer: the configuration of the answering
   * member's log at `since`, with every configuration entry up to `since` in it), and, for a
   * member that joined and has not applied up to its since yet, its status() and the snapshots it
   * takes (Raft: a snapshot at index 7 whose configuration is that of index 9). Configuration
   * entries at or below it are in it already and must not be applied again. It is the
   * configuration from about there on, not that of the slots before, so a core that needs the
   * configuration at its own commit point (Multi-Paxos phase 1) must learn that from its log or a
   * snapshot first. Absent: the configuration of the index it travels with (a bootstrap from slot
   * 1 on, an initial member, a status at its applied index, a snapshot at its index).
   */
  readonly since?: number;
}

/**
 * The join answer's configuration from an answering member's status: its configuration, with as
 * `since` the index that configuration holds at. That is the applied index, or later when the
 * configuration is ahead of it (status().membership.since: a member that joined and has applied
 * less than its own since; a state machine still installing a snapshot the core already took).
 * Told its applied index with a later configuration, a joiner applies again the configuration
 * entries in between, over a configuration that holds them.
 */
export function toldMembership(s: Pick<ReplicaStatus, 'membership' | 'appliedIndex'>): Membership {
  const since = Math.max(s.appliedIndex, s.membership.since ?? 0);
  assert(Number.isSafeInteger(since) && since >= 0, () => `a join answer's since ${since} is an index`);
  return { ...s.membership, since };
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers (inclusive). */
  readonly index: Index;
  /** Term of the entry at `index`. */
  readonly term: Term;
  /** The configuration in force at `index` (or, with `membership.since` above `index`, at since: see Membership.since). */
  readonly membership: Membership;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state at `meta.index`. */
  readonly data: Uint8Array;
}

/**
 * State that must be durable before any message of the same Ready leaves the node.
 * Drivers apply it in this order: `snapshot` (replaces every stored entry at or below its
 * index and the state machine's state), then the truncation point (every stored entry at or
 * after `truncateFrom` is discarded), then `entries` (each is written at its index, replacing
 * whatever was stored there), then `hardState` (replaces the stored one).
 *
 * Raft truncates at its first new entry and appends (a log stays contiguous); a Multi-Paxos
 * acceptor never truncates and overwrites single slots, so its stored entries may have gaps.
 */
export interface Persist<H> {
  readonly hardState: H | null;
  readonly entries: readonly LogEntry[];
  readonly snapshot: Snapshot | null;
  /**
   * Discard stored entries at or after this index before writing `entries`; `null`: discard
   * nothing. Absent: the first entry's index (truncate-and-append), when there are entries.
   */
  readonly truncateFrom?: Index | null;
}

/** The truncation point a Persist asks for, with its default made explicit. */
export function truncationPoint(p: Persist<unknown>): Index | null {
  if (p.truncateFrom !== undefined) return p.truncateFrom;
  return p.entries[0]?.index ?? null;
}

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly requestId: string;
  readonly index: Index;
}

export interface Ready<M extends Envelope, H> {
  readonly persist: Persist<H> | null;
  /**
   * Outbound messages that do not depend on `persist`: they may leave at once, while it is
   * being written (a Raft leader replicating in parallel with its own fsync). A driver that
   * sends them after `persist` instead is correct too, only slower.
   */
  readonly sendBeforePersist: readonly M[];
  /** Outbound messages; none may leave before `persist` is durable. */
  readonly send: readonly M[];
  /**
   * Committed entries, in log order, never repeated. Apply them after restoring
   * `persist.snapshot` if there is one. `noop`/`config` entries advance the applied index too.
   * They are durable on a quorum already, so a driver may apply them before `persist` is
   * durable (unless it installs a snapshot).
   */
  readonly apply: readonly LogEntry[];
  readonly readStates: readonly ReadState[];
  /**
   * Optional (a core given ReplicaOptions.checkSnapshotsUpToBytes): a snapshot received whole from
   * a leader, which the core has neither adopted nor acknowledged. The driver decodes it (without
   * installing anything) and answers snapshotChecked; only a snapshot that decoded is adopted, put
   * in a later Ready's persist and acknowledged. Handed out once.
   */
  readonly checkSnapshot?: Snapshot | null;
}

export interface ReplicaStatus {
  readonly id: NodeId;
  /** Protocol-specific role name, e.g. "leader", "follower", "candidate", "pre-candidate", "learner". */
  readonly role: string;
  /** Term / view / ballot counter. */
  readonly term: Term;
  readonly leader: NodeId | null;
  /**
   * True while this replica acts as the leader (Raft's leader, Paxos's distinguished proposer,
   * PBFT's primary of a view it has entered). Drivers decide with this, never with `role`.
   */
  readonly leading: boolean;
  readonly commitIndex: Index;
  readonly appliedIndex: Index;
  /** The configuration in force at appliedIndex; with `since` above appliedIndex, at since (see Membership.since and toldMembership). */
  readonly membership: Membership;
  /**
   * Optional: the protocol's own counters (messages refused for a bad authenticator, view
   * changes, ...), which the simulator sums over honest members and reports.
   */
  readonly counters?: Readonly<Record<string, number>>;
}

export interface ProposeResult {
  readonly index: Index;
  readonly term: Term;
}

export interface Replica<M extends Envelope, H, S extends ReplicaStatus = ReplicaStatus> {
  readonly id: NodeId;
  /** Advance logical time by one tick. */
  tick(): void;
  /**
   * Optional: `ticks` more ticks of time passed that no tick() covered (the process stalled: a
   * GC pause, SIGSTOP, a loaded event loop). A core advances the clocks its safety rests on (a
   * leader's lease must not outlive the time that really passed) and fires no timer: elections,
   * heartbeats and retransmissions keep one step per tick(), as when a runtime drops the ticks
   * of a slow receiver. A core without time-bound safety leaves it out.
   */
  elapse?(ticks: number): void;
  /** Deliver one message. Stale, duplicate and malformed messages are ignored, never fatal. */
  step(msg: M): void;
  /**
   * Optional (etcd's ReportUnreachable and ReportSnapshot): the transport would not take `msg`
   * (no connection to its addressee, its queue full). A core that sends optimistically (a Raft
   * leader pipelining appends, streaming a snapshot) learns that what it sent is lost and backs
   * off to probing, rather than waiting for a timeout to find out. Cores that resend on timers
   * only leave it out; drivers call it only when the core has it.
   */
  sendFailed?(msg: M): void;
  /**
   * Optional: the runtime saw its connection(s) to `peer` close after their handshake (the peer's
   * process exited, its host reset the connection), and none is left. A hint, never a fact: a
   * connection may close while its peer lives on, and a dead peer's connection may stay silent
   * (a partition). A core may use it to start an election early, without waiting for its timer
   * (an early election is always safe: it is what any timer may do, a vote is a vote). Safety never
   * rests on it. A core whose reads rest on a leader lease must not let it cut that lease short:
   * a follower that acknowledged the leader promised not to help elect another for an election
   * timeout, and the leader may be alive behind the closed connection, serving lease reads.
   * Drivers call it only when the core has it.
   */
  peerDown?(peer: NodeId): void;
  /**
   * Optional (etcd's DisableProposalForwarding, inverted): whether a member that does not lead
   * may forward a client's proposal to the leader it knows (the driver does the forwarding).
   * False: the member answers NotLeader with the leader as a hint, and the client goes there
   * itself. Absent: it forwards.
   */
  forwardsProposals?(): boolean;
  /**
   * Optional, with Ready.checkSnapshot: the snapshot with `meta` decoded (`ok`) or did not. A core
   * adopts one that did and acknowledges it once durable; one that did not is refused (the sender
   * is told, and sends it again later), and the core keeps its state. An answer for a snapshot the
   * core no longer waits on (a newer one came, its term ended) is ignored.
   */
  snapshotChecked?(meta: SnapshotMeta, ok: boolean): void;
  /**
   * Optional: messages that rest on nothing this replica has yet to make durable (a leader's
   * heartbeats, answers to state transfer), which the driver takes and sends while it cannot take
   * a Ready: while the outstanding Ready's persist is written, which may wait behind a snapshot's
   * fsyncs. Without it such messages wait for the next Ready, and a slow save holds a leader's
   * heartbeats past its followers' timeouts. A core hands out none that names state not yet
   * durable (a view that the Ready being saved writes). Cores whose every message waits for a
   * Ready leave it out.
   */
  takeEarly?(): readonly M[];
  /**
   * Append a command to the log (leader only). Throws NotLeader, TooManyRequests or
   * ProposalDropped. Success means "appended at (index, term)", not "committed": the command
   * is committed when an entry with this index *and term* appears in `Ready.apply`.
   */
  propose(command: Uint8Array): ProposeResult;
  /**
   * Ask for a linearizable read point. Answered by a ReadState with the same requestId in a
   * later Ready, or never (if leadership is lost): callers time out. Throws NotLeader when no
   * leader is known.
   */
  readIndex(requestId: string): void;
  /**
   * The driver's state machine has a snapshot at `index` (which it has applied): the core may
   * discard log entries up to it and uses `data` to catch up followers that fell behind.
   * `membership`: the configuration at `index`, as status() gave it then; given when `index` is
   * behind the applied index (a snapshot encoded while later entries applied), as etcd's raft
   * takes the ConfState with CreateSnapshot.
   */
  compact(index: Index, data: Uint8Array, membership?: Membership): void;
  hasReady(): boolean;
  ready(): Ready<M, H>;
  /** The driver made `ready.persist` durable, sent `ready.send` and applied `ready.apply`. */
  advance(ready: Ready<M, H>): void;
  status(): S;
}

/** What a driver reads back from durable storage on restart. */
export interface RestoredState<H> {
  readonly hardState: H | null;
  readonly snapshot: Snapshot | null;
  /**
   * Entries after the snapshot, in index order. Contiguous for a core that always truncates at
   * its first new entry (Raft); a core that overwrites single slots (Paxos) may leave gaps.
   */
  readonly entries: readonly LogEntry[];
}

export interface ReplicaOptions<H> {
  readonly id: NodeId;
  /** The bootstrap configuration; ignored when `restored` holds a snapshot or config entries. */
  readonly membership: Membership;
  readonly random: Random;
  readonly restored?: RestoredState<H>;
  /**
   * Highest index the state machine has already applied (durably, e.g. in its own snapshot).
   * Entries up to it are never handed out again in `Ready.apply`.
   */
  readonly applied?: Index;
  /** Test-only: run a deliberately broken variant of the protocol (see each protocol's MUTANTS). */
  readonly mutant?: string;
  /**
   * Largest command this member accepts, in bytes: the driver passes its own maxCommandBytes
   * (which the operator's --max-request-bytes sets), so the core refuses exactly what the driver
   * refuses, whatever the flag says. Absent: the protocol's own default.
   */
  readonly maxCommandBytes?: number;
  /**
   * The driver checks a received snapshot of at most this many bytes before it is acknowledged
   * (Ready.checkSnapshot, snapshotChecked): its state machine decodes a snapshot apart from its
   * state. A larger one, and every one when absent or 0, is adopted and acknowledged once durable,
   * unchecked (a state machine that can only decode by installing; a snapshot so large that the
   * member would acknowledge nothing for a long decode; scenario tests that drive a core by hand).
   */
  readonly checkSnapshotsUpToBytes?: number;
}

/** A snapshot being encoded (see StateMachine.beginSnapshot). */
export interface SnapshotEncoding {
  /** Encode about `budgetBytes` more; the snapshot's bytes once it is whole (then it is over), else null. */
  step(budgetBytes: number): Uint8Array | null;
  /** Drop it: the state it reads is about to be replaced (a snapshot installed) or the node stops. */
  abandon(): void;
}

/** A snapshot being restored (see StateMachine.beginRestore): decoded in slices, then installed at once. */
export interface SnapshotRestoring {
  /**
   * Decode about `budgetBytes` more; true once all of it is decoded (then install()). Throws on a
   * snapshot it cannot read; the state machine is then as it was.
   */
  step(budgetBytes: number): boolean;
  /** Replace the state machine's state with the snapshot's (after step answered true): a swap, not a decode. */
  install(): void;
}

/**
 * A deterministic state machine above the log. `apply` must depend only on its inputs and the
 * machine's own state, so every replica computes the same results.
 *
 * `apply`, `query` and `applyConfig` are total: they decode the command themselves and answer
 * bytes that are no command with an error *result*, never an exception. The log holds whatever
 * was ordered (a faulty member, or a Byzantine one as its own client, can order any bytes), and
 * an exception there stops every member that applies it, again on every restart. Only a failed
 * assertion (a bug) may stop a member.
 */
export interface StateMachine<R = unknown> {
  /**
   * `origin`: under a Byzantine protocol, the member whose authenticated client ordered the
   * command (the protocol checked its signature); what the command says about who sent it may be
   * a lie, this may not. Absent under crash-fault protocols, whose members are trusted.
   */
  apply(command: Uint8Array, index: Index, origin?: string): R;
  /**
   * Optional: whether `command` is a well-formed command of this state machine (what apply would
   * not answer as malformed). A leader asks it of every command a peer forwards, before that
   * command is proposed: bytes from the peer port are refused there instead of taking a log slot
   * on every member. Without it every forwarded command is proposed (apply stays total anyway).
   */
  isCommand?(command: Uint8Array): boolean;
  /** Serialize the whole state (including client sessions) as of the last applied index. */
  snapshot(): Uint8Array;
  /**
   * Optional: snapshot() as of now, encoded a slice at a time between later applies, so a large
   * state does not hold the event loop (heartbeats, elections) while it is encoded. Without it
   * the driver calls snapshot().
   */
  beginSnapshot?(): SnapshotEncoding;
  /** Replace the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
  /**
   * Optional: restore() decoded a slice at a time (nothing of the state changes until install()),
   * so that installing a large snapshot does not hold the event loop. Without it the driver calls
   * restore().
   */
  beginRestore?(data: Uint8Array): SnapshotRestoring;
  /**
   * Optional: execute a read-only command against the current state without changing it (the
   * read-only optimisation of Byzantine protocols). Without it such requests go through the log.
   */
  query?(command: Uint8Array): R;
  /** Optional: sees each committed membership change entry, in log order (e.g. to keep member addresses). */
  applyConfig?(data: Uint8Array, index: Index): void;
}

export interface MutantInfo {
  /** One word, used with `--mutant NAME`. */
  readonly name: string;
  readonly description: string;
}

export interface MonitorOptions {
  readonly membership: Membership;
  /** The protocol-specific options every replica of the run was created with. */
  readonly protocolOptions: Readonly<Record<string, unknown>>;
}

/** Watches a whole cluster from outside: every message sent, every replica after each step. */
export interface SafetyMonitor<M extends Envelope = Envelope> {
  /** A replica sent `msg` (whether or not the network then delivers it). */
  sent(msg: M): void;
  /** `replica` has just taken a step (and its Ready, if any, was handled). */
  observed(replica: Replica<M, unknown>): void;
}

/** A broken safety invariant, found by a monitor or a driver's checks: a bug report. */
export class InvariantViolation extends Error {
  override readonly name: string = 'InvariantViolation';
  constructor(readonly invariant: string, detail: string) {
    super(`${invariant}: ${detail}`);
  }
}
