/**
 * What a protocol gives the interaction environment: how to build its replicas, how its
 * messages, hard state and entries read on a page, and the commands and checks only it has.
 * The environment itself sees nothing but the `Replica` contract.
 */
import type { NodeId } from '../../../src/core/ids.js';
import type { Envelope, LogEntry, Replica, RestoredState, SafetyMonitor } from '../../../src/core/replica.js';
import type { Directive } from './datadriven.js';
import type { Environment, EnvNode } from './environment.js';

/** A `cluster` command, read: node names, options, and one optional input line per node. */
export interface ClusterSpec {
  /** Every node the command names, in order. */
  readonly ids: readonly NodeId[];
  /** Options of the command line (protocol options, `seed=`, `mutant=`, ...). */
  readonly options: ReadonlyMap<string, string>;
  /** Options of a node's input line (`n1 log=(1,1,4) term=7`). */
  readonly nodeOptions: ReadonlyMap<NodeId, ReadonlyMap<string, string>>;
}

export interface CreateOptions {
  /** The index the node's state machine already holds (durably); 0 on a first start. */
  readonly applied: number;
  /** Test-only: the deliberately broken variant this node runs. */
  readonly mutant: string | undefined;
}

/** What a protocol-specific driver (one that handles Readys itself) reports to the environment. */
export interface DriverIO<M extends Envelope> {
  /** A line of the Ready's printout (shown in full traces only). */
  print(line: string): void;
  /** A message leaves the node (through the network's rules). */
  send(m: M, label: string): void;
  /** The state machine applied `text` at `index` (checked for state machine safety). */
  applied(index: number, text: string): void;
  /** The state machine was replaced by a snapshot (state transfer) through `index`. */
  restoredTo(index: number): void;
  violation(rule: string, detail: string): void;
}

export type Command<M extends Envelope, H> = (d: Directive, env: Environment<M, H>) => void;

export interface Adapter<M extends Envelope, H> {
  /**
   * A new cluster: forget the previous one, read the protocol's options, and return each
   * node's initial durable state (null: an empty disk) and an optional safety monitor.
   */
  configure(spec: ClusterSpec): { readonly initial: ReadonlyMap<NodeId, RestoredState<H>>; readonly monitor: SafetyMonitor<M> | null };
  /** A replica started from what its disk holds (also a node added later, and a restart). */
  create(id: NodeId, restored: RestoredState<H> | null, o: CreateOptions): Replica<M, H>;
  /**
   * After a restart without `applied=`: does the node's state machine still hold what it applied
   * (it persists itself), or does it come back from the durable snapshot only?
   */
  readonly stateMachineSurvivesRestart: boolean;

  messageType(m: M): string;
  formatMessage(m: M): string;
  formatHardState(h: H): string;
  /** An entry as the state machine records it: what nodes must agree on, index by index. */
  formatEntry(e: LogEntry): string;
  /** A term as the protocol names it (a Paxos ballot is `(counter,node)`); default: the number. */
  formatTerm?(term: number): string;
  /** An entry as a node stores it (persist lines, the default `log`), if it says more than formatEntry. */
  formatStoredEntry?(e: LogEntry): string;
  /** A node's role in a few words, printed when it changes ("leader at term 2"). */
  summary(r: Replica<M, H>): string;
  /** The `status` command's line for a node. */
  status(r: Replica<M, H>): string;
  /** The term (view, ballot) this replica believes it leads, or null. */
  leaderTerm(r: Replica<M, H>): number | null;

  /** Start an election / phase 1 now (the `campaign` command), if the protocol can. */
  campaign?(r: Replica<M, H>): void;
  /** The `log` command: a node's log as the replica holds it (default: its durable entries). `flags`: the command's other words. */
  log?(r: Replica<M, H>, flags: readonly string[]): string[];
  /** A forged message, from an `inject` command. */
  parseMessage?(d: Directive): M;
  /** Protocol checks on each Ready (e.g. a vote is durable before it is sent): violations as [rule, detail]. */
  checkReady?(r: Replica<M, H>, ready: ReturnType<Replica<M, H>['ready']>): [string, string][];
  /** Protocol checks over all live replicas (e.g. log matching): violations as [rule, detail]. */
  checkCluster?(replicas: ReadonlyMap<NodeId, Replica<M, H>>): [string, string][];
  /** Handle this node's Readys as the protocol's own driver does (PBFT through PbftHost). */
  handleReadys?(node: EnvNode<M, H>, io: DriverIO<M>): void;
  /** A message addressed to something that is not a node (a client): returns printable events. */
  deliverElsewhere?(m: M): string[];
  /** Commands only this protocol has. */
  readonly commands?: Readonly<Record<string, Command<M, H>>>;
}
