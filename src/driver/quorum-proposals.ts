/**
 * Proposals and reads under the `quorum` client model (Byzantine protocols). A member submits its
 * callers' commands through a pool of its own protocol clients (principals "member#k", using the
 * member's keys: trusting them is trusting the member). A command resolves once the client
 * accepted a result (f + 1 matching replies: at least one from an honest replica) *and* this
 * member executed the request itself, with this member's result, so a caller that then reads
 * this member's state sees its write. A read barrier is an ordered empty request, shared by every
 * read asked before it was sent (see readBarrier).
 */
import { assert } from '../core/assert.js';
import type { Principal } from '../core/authenticator.js';
import { QuorateError, TooManyRequests } from '../core/errors.js';
import type { NodeId } from '../core/ids.js';
import type { QuorumClient } from '../core/protocol.js';
import type { Envelope } from '../core/replica.js';
import type { DriverLimits } from './limits.js';
import type { ClockPort, TimerHandle } from './ports.js';
import { RequestTimeout, type Reply } from './waiters.js';

/**
 * A request with no accepted result is sent to every replica again after quorumClientRetryMs,
 * then after twice that, four times, ... (each send carries the whole request, which may be
 * 1.5 MiB, to every replica), up to this factor times quorumClientRetryMs between sends.
 */
export const QUORUM_CLIENT_RETRY_BACKOFF_MAX_FACTOR = 8;

/** A client principal of member m: "m#k" (principalMember maps it back to m). */
export const clientPrincipal = (member: NodeId, k: number): Principal => `${member}#${k}`;

/** What the quorum proposals need of the driver around them. */
export interface QuorumSite<M extends Envelope> {
  readonly running: boolean;
  /** Send a protocol message to its addressee (a replica, possibly this one). */
  sendMessage(msg: M): void;
}

interface Pending<R> {
  readonly command: Uint8Array;
  readonly reply: Reply<R | undefined>;
  /** How long it may wait, queued or in flight, before it is answered with a timeout. */
  readonly timeoutMs: number;
  readonly deadline: TimerHandle;
  done: boolean;
}

/** A caller of readBarrier waiting for the next barrier request (see readBarrier). */
interface BarrierWaiter {
  readonly reply: Reply<void>;
  /** When its own timeout runs out (clock time). */
  readonly deadlineAt: number;
  readonly deadline: TimerHandle;
  done: boolean;
}

interface PoolClient<M extends Envelope, R> {
  readonly protocol: QuorumClient<M>;
  /** The request in flight, if any, and its timestamp. */
  current: Pending<R> | null;
  timestamp: number;
  /** Whether f + 1 matching replies accepted the current request. */
  accepted: boolean;
  retry: TimerHandle | null;
  /** The wait before the next resend of the current request (doubles, up to the cap). */
  retryMs: number;
}

export class QuorumProposals<M extends Envelope, R> {
  private readonly clients: PoolClient<M, R>[] = [];
  private readonly byPrincipal = new Map<Principal, PoolClient<M, R>>();
  private readonly queue: Pending<R>[] = [];
  /** Results of this member's own clients' requests, as executed here: principal|timestamp → result. */
  private readonly localResults = new Map<string, R | undefined>();
  /**
   * Reads asked since the barrier request in flight was sent: the next barrier request answers
   * them all. At most one barrier request is in flight (or queued) at a time; while it is, this
   * holds the reads for the next one.
   */
  private barrierWaiters: BarrierWaiter[] = [];
  /** How many reads wait for a barrier (answered ones excluded): in barrierWaiters, or on the request in flight. */
  private barrierWaiting = 0;
  private barrierInFlight = false;

  constructor(
    private readonly site: QuorumSite<M>,
    private readonly clock: ClockPort,
    private readonly limits: DriverLimits,
    make: (principal: Principal) => QuorumClient<M>,
    memberId: NodeId,
    /** Test-only: the barrier-per-read mutant (see readBarrier). */
    private readonly barrierPerRead = false,
  ) {
    for (let k = 0; k < limits.quorumClientsPerMember; k++) {
      const principal = clientPrincipal(memberId, k);
      const c: PoolClient<M, R> = { protocol: make(principal), current: null, timestamp: 0, accepted: false, retry: null, retryMs: limits.quorumClientRetryMs };
      this.clients.push(c);
      this.byPrincipal.set(principal, c);
    }
  }

  get pending(): number {
    let inFlight = 0;
    for (const c of this.clients) if (c.current !== null) inFlight++;
    return this.queue.length + inFlight + this.barrierWaiting;
  }

  propose(command: Uint8Array, reply: Reply<R | undefined>): void {
    if (command.byteLength === 0) return reply(new QuorateError('INVALID_ARGUMENT', 'an empty command'));
    this.order(command, reply, this.limits.proposalTimeoutMs);
  }

  /**
   * A read barrier: answered once an empty request sent after it was asked has been ordered and
   * executed here. Every read asked while a barrier request is in flight waits for the next one,
   * which is sent when that one settles and answers them all (etcd's linearizable read loop
   * shares one ReadIndex the same way). A read may not join the request in flight: it was sent
   * before the read was asked, so it may be ordered before a write that completed in between.
   * One ordered request per read instead costs a sequence number per read: under load (a slow
   * cluster, callers that time out and ask another member, each leaving its barrier behind), the
   * barriers of callers that gave up fill the primary's pipeline, every read waits longer than
   * its caller, and a member serves none of its callers.
   */
  readBarrier(reply: Reply<void>, timeoutMs: number): void {
    if (this.barrierPerRead) return this.order(new Uint8Array(0), (err) => reply(err), timeoutMs);
    // Reads are limited by maxPendingReads, as under a leader (LeaderProposals.reads), counting
    // every read still unanswered: those waiting for the next barrier and those on the one in flight.
    if (this.barrierWaiting >= this.limits.maxPendingReads) return reply(new TooManyRequests('maxPendingReads', this.limits.maxPendingReads));
    // Reads that timed out while waiting leave their slot at once (see answerBarrier); their entries are dropped here, in one pass.
    if (this.barrierWaiters.length >= this.limits.maxPendingReads) this.barrierWaiters = this.barrierWaiters.filter((w) => !w.done);
    const w: BarrierWaiter = {
      reply, done: false, deadlineAt: this.clock.now() + timeoutMs,
      deadline: this.clock.setTimer(timeoutMs, () => this.answerBarrier(w, new RequestTimeout('request', timeoutMs))),
    };
    this.barrierWaiters.push(w);
    this.barrierWaiting++;
    this.sendBarrier();
  }

  /** Send the next barrier request for the reads waiting, unless one is in flight. */
  private sendBarrier(): void {
    if (this.barrierInFlight) return;
    const waiters = this.barrierWaiters.filter((w) => !w.done);
    this.barrierWaiters = [];
    if (waiters.length === 0) return;
    this.barrierInFlight = true;
    // It lasts as long as the longest-waiting of its reads may wait; each read keeps its own timeout.
    // (A loop, not Math.max(...spread): a spread of maxPendingReads arguments may overflow the stack.)
    let latest = 0;
    for (const w of waiters) latest = Math.max(latest, w.deadlineAt);
    const timeoutMs = Math.max(1, latest - this.clock.now());
    this.order(new Uint8Array(0), (err) => {
      assert(this.barrierInFlight, 'a barrier request settles while it is in flight');
      this.barrierInFlight = false;
      for (const w of waiters) this.answerBarrier(w, err);
      this.sendBarrier();
    }, timeoutMs);
  }

  private answerBarrier(w: BarrierWaiter, err: Error | null): void {
    if (w.done) return;
    w.done = true;
    this.barrierWaiting--;
    w.deadline.cancel();
    w.reply(err);
  }

  /** A message for one of this member's clients; false if it is not for one of them. */
  receive(msg: M): boolean {
    const c = this.byPrincipal.get(msg.to);
    if (c === undefined) return false;
    if (c.current !== null && !c.accepted) {
      const accepted = c.protocol.onReply(msg);
      if (accepted !== null && accepted.timestamp === c.timestamp) c.accepted = true;
    }
    this.settle();
    return true;
  }

  /** This member executed `client`'s request at `timestamp`. */
  executed(client: Principal, timestamp: number, result: R | undefined): void {
    const c = this.byPrincipal.get(client);
    if (c === undefined || c.current === null || c.timestamp !== timestamp) return;
    this.localResults.set(`${client}|${timestamp}`, result);
    this.settle();
  }

  /**
   * This member installed a transferred state: a request of one of its clients at or below the
   * state's client table ran in the skipped range and will never execute here, so its caller is
   * answered with a retryable error (its result is not known here; it took effect). With no
   * table, every request in flight is. The rest wait: they execute here after the state.
   */
  stateInstalled(executed: ReadonlyMap<Principal, number> | null): void {
    for (const c of this.clients) {
      if (c.current === null) continue;
      if (executed !== null && (executed.get(c.protocol.id) ?? 0) < c.timestamp) continue;
      this.finish(c, new QuorateError('TIMEOUT', 'request executed while this member was catching up by state transfer; its result is not known here: read to check, or retry'));
    }
    this.pump();
  }

  stop(err: Error): void {
    // Reads waiting for a barrier first: the one in flight, stopped below, must not send another.
    for (const w of this.barrierWaiters.splice(0)) this.answerBarrier(w, err);
    for (const c of this.clients) this.finish(c, err);
    for (const p of this.queue.splice(0)) this.answer(p, err);
    this.localResults.clear();
  }

  private order(command: Uint8Array, reply: Reply<R | undefined>, timeoutMs: number): void {
    if (this.queue.length >= this.limits.maxPendingProposals) return reply(new TooManyRequests('maxPendingProposals', this.limits.maxPendingProposals));
    const p: Pending<R> = {
      command, reply, done: false,
      // A request that neither gets f + 1 replies nor executes here in time is answered with a
      // timeout, so a member whose protocol is not live answers its callers instead of hanging.
      timeoutMs,
      deadline: this.clock.setTimer(timeoutMs, () => this.expire(p)),
    };
    this.queue.push(p);
    this.pump();
  }

  private expire(p: Pending<R>): void {
    const c = this.clients.find((x) => x.current === p);
    if (c !== undefined) this.finish(c, new RequestTimeout('request', p.timeoutMs));
    else {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
      this.answer(p, new RequestTimeout('request', p.timeoutMs));
    }
    this.pump();
  }

  /** Give waiting commands to idle clients. */
  private pump(): void {
    for (const c of this.clients) {
      if (c.current !== null || this.queue.length === 0 || !this.site.running) continue;
      const p = this.queue.shift()!;
      c.current = p;
      c.accepted = false;
      c.timestamp = c.protocol.nextTimestamp;
      c.retryMs = this.limits.quorumClientRetryMs;
      let messages: M[];
      try {
        messages = c.protocol.begin(p.command, false);
      } catch (err) {
        // The protocol refused the request (its own size limit, under a raised maxCommandBytes): tell the caller.
        this.finish(c, err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      for (const m of messages) this.site.sendMessage(m);
      this.scheduleRetry(c);
    }
  }

  /** Resend the current request after c.retryMs, then back off (exponentially, capped). */
  private scheduleRetry(c: PoolClient<M, R>): void {
    const waitMs = c.retryMs;
    c.retryMs = Math.min(waitMs * 2, this.limits.quorumClientRetryMs * QUORUM_CLIENT_RETRY_BACKOFF_MAX_FACTOR);
    c.retry = this.clock.setTimer(waitMs, () => {
      c.retry = null;
      if (c.current === null || !this.site.running) return;
      for (const m of c.protocol.retry()) this.site.sendMessage(m);
      this.scheduleRetry(c);
    });
  }

  /** A client is done when f + 1 replicas agreed and this member executed the request too. */
  private settle(): void {
    for (const c of this.clients) {
      if (c.current === null || !c.accepted) continue;
      const key = `${c.protocol.id}|${c.timestamp}`;
      if (!this.localResults.has(key)) continue;
      const result = this.localResults.get(key);
      this.localResults.delete(key);
      const p = c.current;
      this.finish(c, null);
      this.answer(p, null, result);
    }
    this.pump();
  }

  /** Free a client (answering its request with `err` if there is one). */
  private finish(c: PoolClient<M, R>, err: Error | null): void {
    c.retry?.cancel();
    c.retry = null;
    const p = c.current;
    c.current = null;
    c.accepted = false;
    this.localResults.delete(`${c.protocol.id}|${c.timestamp}`);
    if (p !== null && err !== null) this.answer(p, err);
  }

  private answer(p: Pending<R>, err: Error | null, value?: R | undefined): void {
    if (p.done) return;
    p.done = true;
    p.deadline.cancel();
    p.reply(err, value);
  }
}

