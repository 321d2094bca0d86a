/**
 * Proposals and reads under the `leader` client model (crash-fault protocols): a command is
 * appended by the leader and answered once it is applied at the index *and term* it was
 * appended at (another term there means it was lost in a leader change). A member that is not
 * the leader forwards the command to the one it knows and relays the answer once it has applied
 * the command itself, as etcd's followers do, unless its core says not to (etcd's
 * DisableProposalForwarding: then it answers NotLeader naming the leader). A linearizable read waits for a read point the protocol confirmed (ReadIndex),
 * then for the state machine to reach it.
 */
import { assert } from '../core/assert.js';
import { LeaderChanged, NotLeader, notLeaderMessage, ProposalDropped, QuorateError, withoutStack, type ErrorCode } from '../core/errors.js';
import type { Index, NodeId, Term } from '../core/ids.js';
import type { ReadState } from '../core/replica.js';
import type { ClockPort } from './ports.js';
import { Waiters, type Reply } from './waiters.js';
import type { ForwardedError, ForwardProposal, ForwardResult, NodeMessage } from './wire.js';
import type { DriverLimits } from './limits.js';

/** Who leads, as the core reports it. */
export interface Leadership {
  readonly leader: NodeId | null;
  readonly term: Term;
  /** This member leads. */
  readonly leading: boolean;
}

/** What the proposals need of the driver around them. */
export interface ProposalSite {
  readonly id: NodeId;
  /**
   * Names this incarnation of the member (drawn at start): request ids carry it, so an answer to
   * a request of an earlier incarnation (a forwarded result, a read point still in flight when
   * the process restarted) can never be taken for the answer to a new request with the same
   * counter.
   */
  readonly incarnation: string;
  readonly running: boolean;
  /** The known leader, and whether this replica leads. */
  leadership(): { readonly leader: NodeId | null; readonly leading: boolean };
  /** Whether this member may forward a client's proposal to the leader (Replica.forwardsProposals). */
  forwardsProposals(): boolean;
  /** Append to the core's log (leader only); throws NotLeader, TooManyRequests, ProposalDropped. */
  appendToLog(command: Uint8Array): { index: Index; term: Term };
  /** Ask the core for a read point; throws NotLeader when no leader is known. */
  askReadIndex(requestId: string): void;
  /** Send a frame to a peer; false when it cannot be reached now. */
  sendFrame(frame: NodeMessage): boolean;
  /** The core has new input: handle its Ready soon. */
  kick(): void;
  /** The state machine's applied index. */
  appliedIndex(): Index;
  /** Whether the state machine takes `command` as a command (StateMachine.isCommand; true without it). */
  isCommand(command: Uint8Array): boolean;
}

export class LeaderProposals<R> {
  private readonly proposals: Waiters<number, R | undefined>;
  /** Term each waiting proposal was appended in: a different term at that index means it was lost. */
  private readonly proposalTerms = new Map<number, Term>();
  private readonly forwarded: Waiters<string, R>;
  /**
   * Results of forwarded proposals the leader applied at an index this member has not applied
   * yet, by request id: each is answered once this member applied that far (as etcd's member
   * that took a request answers only after applying it). One per forwarded waiter at most: an
   * entry leaves with its waiter, however that is answered.
   */
  private readonly appliedAtLeader = new Map<string, { readonly index: Index; readonly result: R }>();
  private readonly reads: Waiters<string, Index>;
  /** Read points confirmed by the protocol, waiting for the state machine to reach them. */
  private readonly readPoints: ReadState[] = emptyObjectArray();
  private requests = 0;

  constructor(private readonly site: ProposalSite, clock: ClockPort, private readonly limits: DriverLimits) {
    // An index is waited for again only after the log was truncated there and a later leader
    // (this member, re-elected) appended another command at it: the first one is gone.
    this.proposals = new Waiters(clock, 'maxPendingProposals', limits.maxPendingProposals,
      (index) => new ProposalDropped(`the log was truncated at index ${index} before the command committed`));
    this.forwarded = new Waiters(clock, 'maxPendingProposals', limits.maxPendingProposals);
    this.reads = new Waiters(clock, 'maxPendingReads', limits.maxPendingReads);
  }

  get pending(): number {
    return this.proposals.size + this.forwarded.size;
  }

  propose(command: Uint8Array, reply: Reply<R>): void {
    const route = routeProposal(this.site.leadership(), this.site.forwardsProposals());
    switch (route.kind) {
      case 'here':
        return this.proposeHere(command, reply as Reply<R | undefined>);
      case 'forward':
        return this.forward(route.leader, command, reply);
      case 'refuse':
        return reply(route.error);
    }
  }

  /**
   * Append a command (or a membership change, through `append`) here and wait for it to apply;
   * `reply` also learns the index it was applied at.
   */
  proposeHere(command: Uint8Array, reply: AppliedReply<R | undefined>, append: () => { index: Index; term: Term } = () => this.site.appendToLog(command)): void {
    // Check the bound before appending: a command in the log whose caller was turned away would
    // still commit, which is confusing for the caller's retry logic.
    if (this.proposals.full) return reply(new QuorateError('TOO_MANY_REQUESTS', `too many requests: limit maxPendingProposals=${this.limits.maxPendingProposals} reached; back off and retry`));
    let at: { index: Index; term: Term };
    try {
      at = append();
    } catch (err) {
      return reply(err as Error);
    }
    const earlier = this.proposalTerms.get(at.index);
    assert(earlier === undefined || earlier < at.term, () => `index ${at.index} is appended again only in a later term (${earlier} → ${at.term})`);
    this.proposalTerms.set(at.index, at.term);
    const waiting = this.proposals.wait(at.index, this.limits.proposalTimeoutMs, 'proposal', (err, value) => {
      // A waiter superseded at this index is answered after the new term was recorded: keep it.
      if (this.proposalTerms.get(at.index) === at.term) this.proposalTerms.delete(at.index);
      if (err === null) reply(null, value, at.index);
      else reply(err);
    });
    assert(waiting, 'a proposal appended to the log has a waiter (room was checked before appending)');
    this.site.kick();
  }

  readBarrier(reply: Reply<void>, timeoutMs: number): void {
    const requestId = this.nextRequestId();
    // Turned away (too many reads waiting): then the core is not asked either.
    if (!this.reads.wait(requestId, timeoutMs, 'linearizable read', (err) => reply(err))) return;
    try {
      this.site.askReadIndex(requestId);
    } catch (err) {
      this.reads.reject(requestId, err as Error);
      return;
    }
    this.site.kick();
  }

  /** The entry at (index, term) was applied here. */
  applied(index: Index, term: Term, result: R | undefined): void {
    const proposedTerm = this.proposalTerms.get(index);
    if (proposedTerm === undefined) return;
    if (proposedTerm === term) this.proposals.resolve(index, result);
    else this.proposals.reject(index, new ProposalDropped('leadership changed before the command committed'));
  }

  readPointsConfirmed(states: readonly ReadState[]): void {
    for (const rs of states) this.readPoints.push(rs);
    this.releaseApplied();
  }

  /** The state machine applied more: serve the reads and forwarded proposals it has reached. */
  releaseApplied(): void {
    this.releaseForwarded();
    if (this.readPoints.length === 0) return;
    const applied = this.site.appliedIndex();
    let kept = 0;
    for (const rs of this.readPoints) {
      if (rs.index <= applied) this.reads.resolve(rs.requestId, rs.index);
      else this.readPoints[kept++] = rs;
    }
    // Popped rather than cut by setting length: that is a runtime call each time, and a read
    // is answered on nearly every apply.
    while (this.readPoints.length > kept) this.readPoints.pop();
  }

  /** Answer the forwarded proposals whose index the state machine has reached. */
  private releaseForwarded(): void {
    if (this.appliedAtLeader.size === 0) return;
    const applied = this.site.appliedIndex();
    for (const [requestId, { index, result }] of this.appliedAtLeader) {
      if (index <= applied) this.forwarded.resolve(requestId, result); // its reply drops the entry
    }
  }

  /** The leader applied a forwarded command at `index` (unknown from members that predate it). */
  private forwardedApplied(requestId: string, result: R, index: Index | undefined): void {
    if (index === undefined || index <= this.site.appliedIndex()) {
      this.forwarded.resolve(requestId, result);
      return;
    }
    if (!this.forwarded.has(requestId)) return; // answered already (its deadline passed)
    this.appliedAtLeader.set(requestId, { index, result });
  }

  /** A frame about forwarding; false if it is not one. */
  receive(frame: NodeMessage): boolean {
    switch (frame.kind) {
      case 'forward-proposal':
        this.answerForwarded(frame);
        return true;
      case 'forward-result':
        if (frame.ok) this.forwardedApplied(frame.requestId, frame.result as R, Number.isSafeInteger(frame.index) ? frame.index as Index : undefined);
        else this.forwarded.reject(frame.requestId, reviveError(frame.error));
        return true;
      default:
        return false;
    }
  }

  /**
   * The known leader or term changed. Callers waiting on the old leadership are answered now
   * with LeaderChanged (etcd: "leader changed"), so they retry at once instead of waiting out
   * their whole timeout (longer than a short lease's TTL):
   * - this member led and no longer does, or leads again in a later term: the proposals it
   *   appended may still commit or be lost, and its core dropped the read points it had not
   *   confirmed;
   * - another member led and is gone (or began a new term): proposals forwarded to it and reads
   *   it was asked to confirm are lost with its leadership.
   * A retried proposal carries the same session: it takes effect at most once. What already
   * stands is kept: reads whose point was confirmed, and forwarded proposals the old leader
   * applied; they wait only for this member's apply.
   */
  leadershipChanged(before: Leadership, after: Leadership): void {
    const newTerm = after.term !== before.term;
    const ownEnded = before.leading && (!after.leading || newTerm);
    const otherEnded = !before.leading && before.leader !== null && (after.leader !== before.leader || newTerm);
    if (!ownEnded && !otherEnded) return;
    // An error costs a stack trace: made only when someone waits for it (leaders come and go often).
    if ((!ownEnded || this.proposals.size === 0) && this.forwarded.size === 0 && this.reads.size === 0) return;
    if (ownEnded) this.proposals.rejectAll(new LeaderChanged(after.leader, 'proposal'));
    this.forwarded.rejectAll(new LeaderChanged(after.leader, 'proposal'), (requestId) => this.appliedAtLeader.has(requestId));
    const confirmed = new Set(this.readPoints.map((rs) => rs.requestId));
    this.reads.rejectAll(new LeaderChanged(after.leader, 'read'), (requestId) => confirmed.has(requestId));
  }

  stop(err: Error): void {
    this.proposals.rejectAll(err);
    this.forwarded.rejectAll(err);
    this.reads.rejectAll(err);
    this.readPoints.length = 0;
    assert(this.appliedAtLeader.size === 0, 'a result waiting for this member to apply leaves with its waiter');
  }

  private nextRequestId(): string {
    return `${this.site.id}/${this.site.incarnation}/${++this.requests}`;
  }

  private forward(leader: NodeId, command: Uint8Array, reply: Reply<R>): void {
    const requestId = this.nextRequestId();
    // Turned away (too many forwarded proposals waiting): then the command is not sent either,
    // or it would commit behind the caller's back and a retry would apply it twice.
    const answer: Reply<R> = (err, value) => {
      this.appliedAtLeader.delete(requestId);
      reply(err, value);
    };
    if (!this.forwarded.wait(requestId, this.limits.proposalTimeoutMs, 'forwarded proposal', answer)) return;
    const frame: ForwardProposal = { kind: 'forward-proposal', from: this.site.id, to: leader, requestId, command };
    if (!this.site.sendFrame(frame)) this.forwarded.reject(requestId, new QuorateError('UNAVAILABLE', `cannot reach the leader ${leader}; retry`));
  }

  private answerForwarded(msg: ForwardProposal): void {
    const answer: AppliedReply<R | undefined> = (err, value, index) => {
      if (err !== null) return refuse(toForwardedError(err));
      if (!this.site.running) return;
      this.site.sendFrame({ kind: 'forward-result', from: this.site.id, to: msg.from, requestId: msg.requestId, ok: true, result: value, ...(index === undefined ? {} : { index }) });
    };
    // A refusal made here goes out as the fields the caller's member revives an error from
    // (toForwardedError's): an Error made only to be taken apart cost a stack trace each.
    const refuse = (error: ForwardedError): void => {
      if (!this.site.running) return;
      this.site.sendFrame({ kind: 'forward-result', from: this.site.id, to: msg.from, requestId: msg.requestId, ok: false, error });
    };
    const refusal = (code: ErrorCode, message: string): ForwardedError => ({ code, message, leaderHint: null });
    const leadership = this.site.leadership();
    if (!leadership.leading) return refuse({ code: 'NOT_LEADER', message: notLeaderMessage(leadership.leader), leaderHint: leadership.leader });
    if (!(msg.command instanceof Uint8Array) || msg.command.byteLength === 0) {
      return refuse(refusal('INVALID_ARGUMENT', 'a forwarded command is a non-empty byte array'));
    }
    if (msg.command.byteLength > this.limits.maxCommandBytes) {
      return refuse(refusal('REQUEST_TOO_LARGE', `forwarded command exceeds maxCommandBytes=${this.limits.maxCommandBytes}`));
    }
    // Peer input: a member's own server builds well-formed commands, so bytes that are no command
    // came from a faulty or forged peer. Refused here, they never take a slot in every member's log.
    if (!this.site.isCommand(msg.command)) {
      return refuse(refusal('INVALID_ARGUMENT', 'a forwarded command is not a command of this state machine'));
    }
    this.proposeHere(msg.command, answer);
  }
}

/** Where a client's proposal made at a member goes (see routeProposal). */
export type ProposalRoute =
  | { readonly kind: 'here' }
  | { readonly kind: 'forward'; readonly leader: NodeId }
  | { readonly kind: 'refuse'; readonly error: NotLeader };

/**
 * A member that leads appends a client's proposal itself; one that knows the leader forwards it
 * there, if its core lets it (`forwards`); otherwise the client hears NotLeader, with the leader
 * as a hint when one is known. (Exported for the scenario tests, which route as the driver does.)
 */
export function routeProposal(leadership: { readonly leader: NodeId | null; readonly leading: boolean }, forwards: boolean): ProposalRoute {
  if (leadership.leading) return { kind: 'here' };
  // A routine redirect, answered by its code and hint: no stack trace (see withoutStack).
  if (leadership.leader === null || !forwards) return { kind: 'refuse', error: withoutStack(() => new NotLeader(leadership.leader)) };
  return { kind: 'forward', leader: leadership.leader };
}

/** A proposal's continuation: an error, or the result and the log index it was applied at. */
export type AppliedReply<T> = (err: Error | null, value?: T, index?: Index) => void;

/**
 * An empty array made holding objects from the start: V8 gives `[]` small-integer elements and
 * changes that on the first object stored; when that happens long after the array was made, code
 * optimized for arrays that had already changed is thrown away and compiled again.
 */
function emptyObjectArray<T>(): T[] {
  const a: unknown[] = [null];
  a.pop();
  return a as T[];
}

function toForwardedError(err: Error): ForwardedError {
  if (err instanceof NotLeader || err instanceof LeaderChanged) return { code: err.code, message: err.message, leaderHint: err.leaderHint };
  if (err instanceof QuorateError) return { code: err.code, message: err.message, leaderHint: null };
  return { code: 'UNAVAILABLE', message: err.message, leaderHint: null };
}

/** The error a forwarded proposal's answer carries, rebuilt here (without a stack: it would show only this member's frame handling; see withoutStack). */
function reviveError(e: ForwardResult['error']): Error {
  return withoutStack(() => {
    if (e === undefined) return new QuorateError('UNAVAILABLE', 'forwarded proposal failed without a reason');
    if (e.code === 'NOT_LEADER') return new NotLeader(e.leaderHint);
    if (e.code === 'LEADER_CHANGED') return new LeaderChanged(e.leaderHint, 'proposal');
    return new QuorateError(e.code, e.message);
  });
}
