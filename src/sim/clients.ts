/**
 * The simulation's clients, one per client model (ProtocolDefinition.client):
 *
 * - `SessionClient` talks to one member at a time, as an etcd client does: the member proposes
 *   (or forwards to the leader) through the driver, or serves a read after its read barrier. A
 *   timeout or an error sends the same command (same session tag: exactly once) elsewhere.
 * - `QuorumSimClient` is a Byzantine protocol's own client: it sends signed requests to the
 *   replicas over the model network and accepts a result on f + 1 matching replies (2f + 1 for a
 *   read-only request); the simulator checks that no accepted result is one no honest replica
 *   produced.
 *
 * Both record what they saw in the history the checker judges.
 */
import type { Operation } from '../check/history.js';
import { QuorateError } from '../core/errors.js';
import type { NodeId } from '../core/ids.js';
import type { Random } from '../core/prng.js';
import type { QuorumClient } from '../core/protocol.js';
import type { Envelope } from '../core/replica.js';
import type { Driver } from '../driver/driver.js';
import type { SimNode } from './sim-node.js';
import type { Workload, WorkloadOp } from './workloads/workload.js';

/** What a client needs from its simulation. */
export interface ClientSite<R> {
  readonly rng: Random;
  readonly workload: Workload<WorkloadOp, R>;
  readonly clientTimeoutMs: number;
  readonly clientAttempts: number;
  readonly clientThinkMs: number;
  /** The chance that a client is a reader (mostly reads; see READER_CLIENT_SHARE). */
  readonly readerShare: number;
  now(): number;
  latency(): number;
  /** Run `fn` after `ms` as a simulator event. */
  after(ms: number, fn: () => void): void;
  /** Run `fn` after `ms` as a turn of `node` (parked while it is paused). */
  afterOn(node: SimNode<R>, ms: number, fn: () => void): void;
  /**
   * Run `fn` after `clientTimeoutMs` as a simulator event (a timeout); returns a handle for
   * `disarmTimeout`.
   */
  armTimeout(fn: () => void): number;
  /**
   * The timeout `armTimeout` returned `handle` for would do nothing now if it came due (its
   * attempt is over): it is not run (an event still comes due then, so the run is unchanged).
   */
  disarmTimeout(handle: number): void;
  /** The phase of the run: clients stop issuing new operations near the end. */
  mayStart(): boolean;
  readsOnly(): boolean;
  /**
   * The state machine keeps a session under the member that ordered its command (a Byzantine
   * protocol: a liar must not pre-seed another member's session). A command sent again through
   * another member is then a new request and may take effect twice, so a session client sends an
   * ordered command again only where it first sent it, as the server's own proposer does; an
   * etcd client that moved on would have had an error, not a second execution.
   */
  readonly sessionsPerMember: boolean;
  /** The origin the state machines see for a command `node` orders ('' when the protocol passes none). */
  commandOrigin(node: SimNode<R>): string;
  /** The members a client may ask (honest ones under a Byzantine protocol). */
  members(): readonly SimNode<R>[];
  /** Operations finished (`by`: the member that answered, '' if none did); also noted in the trace. */
  record(ops: readonly Operation[], label: string, by: string, client: number, ok: boolean): void;
  /** The id the next operation recorded in the history gets (ops made with it are kept as they are). */
  nextOperationId(): number;
  /** The client is idle (the simulation may move to its next phase). */
  idle(client: number): void;
  /** `node` answered one of this client's operations with a result. */
  served(node: SimNode<R>): void;
  /**
   * A linearizable read is about to be asked of `node`: returns a check to run when it is served
   * (every entry committed anywhere before it was asked must be in what it reads).
   */
  readAsked(node: SimNode<R>): (servedBy: SimNode<R>) => void;
}

/** Share of clients that are readers, and the share of their operations that are reads. */
export const READER_CLIENT_SHARE = 0.4;
export const READER_READ_SHARE = 0.9;

interface InFlight<Op, R> {
  readonly op: Op;
  readonly invokedAt: number;
  readonly seq: number;
  /** With sessionsPerMember: the member an ordered command was first sent through. */
  pinned: SimNode<R> | null;
}

/** Share of a session client's operations preceded by a command of random bytes, and its largest size. */
export const MALFORMED_COMMAND_SHARE = 0.01;
export const MALFORMED_COMMAND_MAX_BYTES = 48;

/** A client of a leader-model protocol (and a member's caller under a quorum-model one). */
export class SessionClient<R> {
  private seq = 0;
  private attempt = 0;
  private attempts = 0;
  private guess: SimNode<R>;
  /**
   * A client starts every operation at its home member, as a Jepsen worker bound to one node
   * does (round-robin over the members, so every member has clients): one bound to a deposed
   * leader keeps asking it, which is how stale reads show. Only a retry goes elsewhere.
   */
  home: SimNode<R>;
  /** A reader mostly reads (a dashboard, a cache filler): pinned to a deposed leader, it reads from it again and again. */
  private readonly reader: boolean;
  private current: InFlight<WorkloadOp, R> | null = null;
  completedAfterHeal = false;
  /** The handle of the last attempt's timeout (see ClientSite.armTimeout; -1: none). */
  private timeoutHandle = -1;
  /** next(), made once: it runs after every operation. */
  private readonly nextAfterThinking = (): void => this.next();

  constructor(readonly id: number, private readonly site: ClientSite<R>) {
    const members = site.members();
    this.home = members[(id - 1) % members.length]!;
    this.guess = this.home;
    this.reader = site.rng.chance(site.readerShare);
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /** Start the next operation (after thinking). */
  next(): void {
    if (!this.site.mayStart()) return this.site.idle(this.id);
    // A home removed from the configuration is not asked any more: the worker moves to a member.
    const members = this.site.members();
    if (!members.includes(this.home)) this.home = members[(this.id - 1) % members.length]!;
    if (this.site.rng.chance(MALFORMED_COMMAND_SHARE)) this.orderMalformed();
    const finalReads = this.site.readsOnly();
    const op = this.site.workload.next(this.site.rng, this.id, finalReads || (this.reader && this.site.rng.chance(READER_READ_SHARE)), finalReads);
    this.seq++;
    this.current = { op, invokedAt: this.site.now(), seq: this.seq, pinned: null };
    this.attempts = 0;
    this.guess = this.home;
    this.send();
  }

  /** The run ended with this operation in flight: its outcome is unknown. */
  abandon(): void {
    if (this.current !== null) this.finish('unknown', undefined);
  }

  /**
   * Order bytes that are no command (a buggy or hostile client of a member): apply must answer
   * them with an error result on every member, never throw. Under a leader-model protocol only
   * those ordered at the leader reach the log (a leader refuses a forwarded command that is no
   * command, INVALID_ARGUMENT); under a quorum-model one every member orders them. Not an
   * operation of the history.
   */
  private orderMalformed(): void {
    const bytes = new Uint8Array(this.site.rng.int(1, MALFORMED_COMMAND_MAX_BYTES));
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.site.rng.int(0, 255);
    const node = this.site.rng.pick(this.site.members());
    this.site.afterOn(node, this.site.latency(), () => node.runningDriver?.propose(bytes, () => {}));
  }

  private send(): void {
    const c = this.current;
    if (c === null) return;
    // The last attempt is over (this one replaces it): its timeout, still due, would do nothing.
    this.site.disarmTimeout(this.timeoutHandle);
    const attempt = ++this.attempt;
    this.attempts++;
    if (this.site.sessionsPerMember && !c.op.localRead) c.pinned ??= this.guess;
    const node = c.pinned ?? this.guess;
    this.site.afterOn(node, this.site.latency(), () => this.handleAt(node, attempt, c));
    this.timeoutHandle = this.site.armTimeout(() => this.timeout(attempt));
  }

  /** At the member: propose or read, and answer over the network. */
  private handleAt(node: SimNode<R>, attempt: number, c: InFlight<WorkloadOp, R>): void {
    const driver = node.runningDriver;
    if (driver === null) return;
    const answer = (err: Error | null, result?: R): void => {
      if (err !== null && !(err instanceof QuorateError)) throw err; // a bug, not an answer
      if (err === null) this.site.served(node);
      this.site.after(this.site.latency(), () => this.answer(attempt, err, result, node.key));
    };
    if (c.op.localRead) {
      const served = this.site.readAsked(node);
      driver.readBarrier((err) => {
        const sm = node.sm;
        if (err !== null || sm === null) return answer(err ?? new QuorateError('STOPPED', 'the node is stopped'));
        served(node);
        answer(null, this.site.workload.readLocal(sm, c.op));
      });
      return;
    }
    if (c.op.afterBarrier !== true) return this.propose(driver, node, c, answer);
    driver.readBarrier((err) => {
      if (err !== null) return answer(err);
      if (node.runningDriver === driver) this.propose(driver, node, c, answer); // else the member stopped: the attempt times out
    });
  }

  private propose(driver: Driver<R>, node: SimNode<R>, c: InFlight<WorkloadOp, R>, answer: (err: Error | null, result?: R) => void): void {
    const command = this.site.workload.command(c.op, { client: this.id, seq: c.seq, lowestPending: c.seq }, { sm: node.sm, origin: this.site.commandOrigin(node) });
    driver.propose(command, answer);
  }

  private answer(attempt: number, err: Error | null, result: R | undefined, by: string): void {
    if (this.current === null || attempt !== this.attempt) return; // an answer to an attempt we gave up on
    if (err === null) return this.finish('ok', result, by);
    const hint = (err as { leaderHint?: NodeId | null }).leaderHint ?? null;
    const hinted = hint === null ? undefined : this.site.members().find((n) => n.id === hint);
    this.guess = hinted ?? this.site.rng.pick(this.site.members());
    this.retry();
  }

  private timeout(attempt: number): void {
    if (this.current === null || attempt !== this.attempt) return;
    this.guess = this.site.rng.pick(this.site.members());
    this.retry();
  }

  private retry(): void {
    if (this.attempts >= this.site.clientAttempts) return this.finish('unknown', undefined);
    this.send(); // same (client, seq): the session makes the retry exactly-once
  }

  private finish(outcome: 'ok' | 'unknown', result: R | undefined, by = ''): void {
    const c = this.current;
    if (c === null) return;
    this.current = null;
    this.site.disarmTimeout(this.timeoutHandle); // the operation is over: so is its last attempt
    this.timeoutHandle = -1;
    const now = this.site.now();
    let id = this.site.nextOperationId();
    const ops = this.site.workload.record(c.op, this.id, outcome, result, c.invokedAt, now, () => id++);
    this.site.record(ops, c.op.label, by, this.id, outcome === 'ok');
    if (outcome === 'ok' && this.site.readsOnly()) this.completedAfterHeal = true;
    this.site.after(this.site.clientThinkMs, this.nextAfterThinking);
  }
}

/** What a quorum client needs beyond the common site: the network to the replicas, and the honest results. */
export interface QuorumClientSite<M extends Envelope, R> extends ClientSite<R> {
  /** Send a request from a client to a replica over the model network. */
  sendFromClient(msg: M): void;
  /** Is `result` (encoded) what an honest replica produced for (client, timestamp, readOnly)? */
  honestResult(client: string, timestamp: number, readOnly: boolean, result: Uint8Array): boolean;
  /** A client accepted a result no honest replica produced. */
  forged(detail: string): never;
}

/** A Byzantine protocol's own client (f + 1 matching replies). */
export class QuorumSimClient<M extends Envelope, R> {
  private attempt = 0;
  private attempts = 0;
  private current: { op: WorkloadOp; invokedAt: number; readOnly: boolean; timestamp: number } | null = null;
  completedAfterHeal = false;
  /** The handle of the last attempt's timeout (see ClientSite.armTimeout; -1: none). */
  private timeoutHandle = -1;

  constructor(readonly id: number, readonly protocolClient: QuorumClient<M>, private readonly site: QuorumClientSite<M, R>) {}

  get principal(): string {
    return this.protocolClient.id;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  next(): void {
    if (!this.site.mayStart()) return this.site.idle(this.id);
    const op = this.site.workload.next(this.site.rng, this.id, this.site.readsOnly());
    this.current = { op, invokedAt: this.site.now(), readOnly: op.readOnly, timestamp: 0 };
    this.attempts = 0;
    this.begin();
  }

  abandon(): void {
    if (this.current !== null) this.finish('unknown', undefined);
  }

  /** A reply from a replica. */
  receive(msg: M): void {
    const c = this.current;
    if (c === null) return;
    const accepted = this.protocolClient.onReply(msg);
    if (accepted === null) return;
    if (!this.site.honestResult(this.principal, accepted.timestamp, accepted.readOnly, accepted.result)) {
      this.site.forged(`client ${this.principal} accepted a result for timestamp ${accepted.timestamp} that no honest replica produced`);
    }
    this.finish('ok', this.site.workload.decodeResult(accepted.result));
  }

  private begin(): void {
    const c = this.current!;
    this.attempt++;
    this.attempts++;
    c.timestamp = this.protocolClient.nextTimestamp;
    const command = this.site.workload.command(c.op, { client: this.id, seq: c.timestamp, lowestPending: c.timestamp });
    for (const m of this.protocolClient.begin(command, c.readOnly)) this.site.sendFromClient(m);
    this.armTimeout();
  }

  private armTimeout(): void {
    // The last attempt is over (this one replaces it): its timeout, if still due, would do nothing.
    this.site.disarmTimeout(this.timeoutHandle);
    const attempt = this.attempt;
    this.timeoutHandle = this.site.armTimeout(() => this.timeout(attempt));
  }

  private timeout(attempt: number): void {
    const c = this.current;
    if (c === null || attempt !== this.attempt) return;
    if (this.attempts >= this.site.clientAttempts) return this.finish('unknown', undefined);
    if (c.readOnly) {
      // No 2f + 1 matching read-only replies: ask again as an ordered request.
      c.readOnly = false;
      this.begin();
      return;
    }
    this.attempt++;
    this.attempts++;
    for (const m of this.protocolClient.retry()) this.site.sendFromClient(m);
    this.armTimeout();
  }

  private finish(outcome: 'ok' | 'unknown', result: R | undefined): void {
    const c = this.current;
    if (c === null) return;
    this.current = null;
    this.site.disarmTimeout(this.timeoutHandle); // the operation is over: so is its last attempt
    this.timeoutHandle = -1;
    let id = this.site.nextOperationId();
    const ops = this.site.workload.record(c.op, this.id, outcome, result, c.invokedAt, this.site.now(), () => id++);
    this.site.record(ops, c.op.label, '', this.id, outcome === 'ok');
    if (outcome === 'ok' && this.site.readsOnly()) this.completedAfterHeal = true;
    this.site.after(this.site.clientThinkMs, () => this.next());
  }
}
