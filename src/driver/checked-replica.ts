/**
 * The Ready contract, checked for every core: ready() and advance() alternate, advance() gets
 * back the very Ready that ready() handed out, and no Ready is taken while one is outstanding.
 * Every driver wraps its core in this, so a core that breaks the contract fails loudly in the
 * simulator instead of quietly losing a Ready in production.
 */
import { assert } from '../core/assert.js';
import type { Index, NodeId } from '../core/ids.js';
import type { Envelope, Membership, ProposeResult, Ready, Replica, ReplicaStatus, SnapshotMeta } from '../core/replica.js';

export class CheckedReplica<M extends Envelope, H> implements Replica<M, H> {
  readonly id;
  private outstanding: Ready<M, H> | null = null;
  /**
   * The core's status since its last input. A core changes only inside its own methods, and the
   * driver, its proposals and the simulator's checks ask for the status several times between
   * two inputs: one object serves them all. Every call that may change the core drops it first
   * (the core is synchronous and never calls out, so nothing can ask in the middle of a call).
   */
  private cachedStatus: ReplicaStatus | null = null;

  constructor(readonly inner: Replica<M, H>) {
    this.id = inner.id;
  }

  tick(): void {
    this.cachedStatus = null;
    this.inner.tick();
  }

  elapse(ticks: number): void {
    this.cachedStatus = null;
    this.inner.elapse?.(ticks);
  }

  step(msg: M): void {
    this.cachedStatus = null;
    this.inner.step(msg);
  }

  sendFailed(msg: M): void {
    this.cachedStatus = null;
    this.inner.sendFailed?.(msg);
  }

  peerDown(peer: NodeId): void {
    this.cachedStatus = null;
    this.inner.peerDown?.(peer);
  }

  takeEarly(): readonly M[] {
    // A message taken changes nothing the status reports.
    return this.inner.takeEarly?.() ?? NONE;
  }

  snapshotChecked(meta: SnapshotMeta, ok: boolean): void {
    this.cachedStatus = null;
    this.inner.snapshotChecked?.(meta, ok);
  }

  forwardsProposals(): boolean {
    return this.inner.forwardsProposals?.() ?? true;
  }

  propose(command: Uint8Array): ProposeResult {
    this.cachedStatus = null;
    return this.inner.propose(command);
  }

  readIndex(requestId: string): void {
    this.cachedStatus = null;
    this.inner.readIndex(requestId);
  }

  compact(index: Index, data: Uint8Array, membership?: Membership): void {
    this.cachedStatus = null;
    this.inner.compact(index, data, membership);
  }

  /** Drive the core through an optional ability (membership changes, leadership transfer). */
  drive<T>(fn: (inner: Replica<M, H>) => T): T {
    this.cachedStatus = null;
    return fn(this.inner);
  }

  hasReady(): boolean {
    // A core with a Ready outstanding has nothing more to hand out until it is advanced.
    return this.outstanding === null && this.inner.hasReady();
  }

  ready(): Ready<M, H> {
    assert(this.outstanding === null, 'ready() called while a Ready is outstanding (advance() it first)');
    this.cachedStatus = null;
    const rd = this.inner.ready();
    this.outstanding = rd;
    return rd;
  }

  advance(rd: Ready<M, H>): void {
    assert(this.outstanding !== null, 'advance() without an outstanding ready()');
    assert(this.outstanding === rd, 'advance() must get back the Ready that ready() handed out');
    this.outstanding = null;
    this.cachedStatus = null;
    this.inner.advance(rd);
  }

  /** Whether a Ready is being handled (between ready() and advance()). */
  get busy(): boolean {
    return this.outstanding !== null;
  }

  status(): ReplicaStatus {
    return (this.cachedStatus ??= this.inner.status());
  }
}

/** No messages (shared: a driver asks for early messages after every input). */
const NONE: readonly never[] = Object.freeze([]);
