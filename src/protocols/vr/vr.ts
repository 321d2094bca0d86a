/**
 * Viewstamped Replication Revisited (Liskov & Cowling, 2012) as a pure core behind the Replica
 * contract. Inputs: tick(), step(msg), propose(cmd), readIndex(id), compact(index, data). Output:
 * ready() → persist / send / apply / readStates, acknowledged with advance().
 *
 * The paper's state, and what governs each field:
 * - `view` (view-number): never decreases; durable before any message of that view leaves.
 * - `status`: normal, view-change or recovering. Only a replica in normal status answers PREPAREs,
 *   only one in view-change status votes in a view change, a recovering one answers nothing.
 * - op-number: the last op in the log (`opNumber()`); commit-number (`commit`): never decreases,
 *   never above op-number.
 * - the log: ops `base + 1 .. opNumber`; everything up to `base` is in the snapshot (a checkpoint,
 *   see compact()). An entry's term is the view whose primary assigned the op, kept for ever: two
 *   logs that hold the same (op, view) agree up to it.
 * - the client table: the state machine's sessions (client id, request number, last reply), as
 *   for every leader-model protocol here: a retried request is ordered again and answered from the
 *   table when it executes; nothing of it lives in this core.
 *
 * Departures from the paper, each bounded and each for a reason:
 * - Messages that would carry a whole log (DO-VIEW-CHANGE, START-VIEW, RECOVERYRESPONSE) carry a
 *   bounded part; the rest travels by state transfer (GETSTATE / NEWSTATE), which the paper uses
 *   for the same gap anyway. The new primary fetches what it lacks of the chosen log before it
 *   sends START-VIEW; a recovering replica fetches the primary's log up to the op-number the
 *   primary's RECOVERYRESPONSE named before it takes part again.
 * - COMMIT carries the primary's op-number too, so a backup that lost a PREPARE notices.
 * - With the WAL (the default) the view-number, last-normal view and log are durable: a replica
 *   restarts from them. A restarted primary does not resume its view (its own last ops may have
 *   been lost while its PREPAREs were out): it starts a view change.
 * - A linearizable read waits for an op the primary prepared after the read arrived to commit in
 *   its view (a no-op when no client op comes): the commit proves the primary still led then.
 */
import { assert, unreachable } from '../../core/assert.js';
import { NotLeader, QuorateError, TooManyRequests } from '../../core/errors.js';
import type { Index, NodeId } from '../../core/ids.js';
import type { Random } from '../../core/prng.js';
import { majority } from '../../core/quorum.js';
import type {
  LogEntry, Membership, Persist, ProposeResult, ReadState, Ready, Replica, ReplicaOptions, ReplicaStatus, Snapshot,
} from '../../core/replica.js';
import type { LogView } from '../../core/protocol.js';
import type { VrMutant } from './mutants.js';
import {
  DEFAULT_VR_LIMITS, OP_OVERHEAD_BYTES,
  type DoViewChange, type OpNumber, type VrHardState, type VrLimits, type VrMessage, type View,
} from './types.js';

export type VrStatusName = 'normal' | 'view-change' | 'recovering';
export type VrRole = 'primary' | 'backup' | 'view-change' | 'recovering';

export interface VrStatus extends ReplicaStatus {
  readonly role: VrRole;
  readonly view: View;
  readonly status: VrStatusName;
  readonly lastNormalView: View;
  readonly opNumber: OpNumber;
}

export interface VrOptions extends ReplicaOptions<VrHardState>, Partial<VrLimits> {}

/** Messages without from: the replica fills it in. */
type Outbound = VrMessage extends infer M ? (M extends VrMessage ? Omit<M, 'from'> : never) : never;

/** A read waiting for its read point: an op prepared after it arrived (`at`, null until one is) committing in this view. */
interface PendingRead {
  readonly requestId: string;
  /** The backup that forwarded it (null: this replica's own client). */
  readonly origin: NodeId | null;
  at: OpNumber | null;
}

/** The new primary fetching the rest of the chosen log from the replica that sent it, before it starts the view. */
interface Fetch {
  readonly from: NodeId;
  readonly through: OpNumber;
  readonly commit: OpNumber;
}

/** A diskless replica's recovery under way: its nonce and the answers to it. */
interface Recovering {
  readonly nonce: number;
  readonly responses: Map<NodeId, { readonly view: View; readonly primary: boolean; readonly opNumber: OpNumber; readonly commit: OpNumber }>;
  /** Once f + 1 answered, the primary among them: fetch its log up to `through`. */
  target: { readonly primary: NodeId; readonly view: View; readonly through: OpNumber; readonly commit: OpNumber } | null;
}

/** A view change gets at most 2^this times viewChangeTimeoutTicks (see failedViewChanges). */
const MAX_VIEW_CHANGE_BACKOFF = 4;
/** takeEarly()'s answer when there is nothing to send (no array per call). */
const NO_MESSAGES: readonly VrMessage[] = [];
/** Nonces are drawn from 1 to this. */
const NONCE_RANGE = 0x7fffffff;

export class VrReplica implements Replica<VrMessage, VrHardState, VrStatus> {
  readonly id: NodeId;
  private readonly limits: VrLimits;
  private readonly random: Random;
  private readonly mutant: VrMutant | null;
  /** The configuration's members, sorted: the primary of view v is members[v mod n]. */
  private readonly members: readonly NodeId[];
  private readonly membership: Membership;
  private readonly quorum: number;

  private view: View = 0 as View;
  private currentStatus: VrStatusName = 'normal';
  private lastNormalView: View = 0 as View;
  /** Ops base + 1 .. base + log.length. */
  private log: LogEntry[] = [];
  private base: OpNumber = 0 as OpNumber;
  private baseTerm: View = 0 as View;
  /** commit-number: never decreases; base <= applied <= commit <= opNumber(). */
  private commit: OpNumber = 0 as OpNumber;
  /**
   * Every op up to here is the target log's: the view's log (a normal backup; once it holds the
   * view's log through the primary's op-number it is caught up and verified = op-number), the
   * chosen log (a new primary fetching it), the primary's (a recovering replica). Ops above it
   * are kept until the target's own replace them (never truncated on a guess: an uncommitted op
   * here may be committed, and this replica one of the f + 1 that hold it).
   * Invariant: commit <= verified <= op-number.
   */
  private verified: OpNumber = 0 as OpNumber;
  /** Highest op handed out in Ready.apply (or covered by an installed snapshot). */
  private applied: OpNumber = 0 as OpNumber;

  // What the next Ready persists.
  private dirtyFrom: OpNumber | null = null;
  private persistedHard: VrHardState | null = null;
  private pendingSnapshot: Snapshot | null = null;
  /** The latest checkpoint, to send to a replica behind it. */
  private snapshot: Snapshot | null = null;
  private msgs: VrMessage[] = [];
  /** Messages that may leave before the Ready's persist (see sendEarly). */
  private early: VrMessage[] = [];
  private readStates: ReadState[] = [];
  private outstanding: Ready<VrMessage, VrHardState> | null = null;
  /** op-number when the outstanding Ready was made, and the lowest op rewritten since (the primary counts only durable ops as its own PREPAREOK). */
  private readyOp: OpNumber = 0 as OpNumber;
  private rewrittenSinceReady: OpNumber | null = null;
  private durableOp: OpNumber = 0 as OpNumber;

  // Primary.
  /** Each backup's PREPAREOK: it holds the view's log up to this op. */
  private readonly acks = new Map<NodeId, OpNumber>();
  /** Ops up to here went out in PREPAREs (or in START-VIEW). */
  private sentOp: OpNumber = 0 as OpNumber;
  /**
   * The commit-number the backups were last sent (in a PREPARE, COMMIT or START-VIEW): one above
   * it goes out in a COMMIT with the next Ready, not with the next heartbeat.
   */
  private toldCommit: OpNumber = 0 as OpNumber;
  private heartbeatElapsed = 0;
  private reads: PendingRead[] = [];
  /** Backup: requests forwarded to the primary, waiting for their read point. */
  private readonly forwardedReads = new Set<string>();

  // View change.
  private readonly startViewChanges = new Set<NodeId>();
  private readonly doViewChanges = new Map<NodeId, DoViewChange>();
  private doViewChangeSent = false;
  private fetch: Fetch | null = null;
  /** Each replica's commit-number as its DO-VIEW-CHANGE told (the new primary's START-VIEW carries it the ops from there). */
  private readonly knownCommit = new Map<NodeId, OpNumber>();

  // Timers.
  private ticksSinceHeard = 0;
  private timeout = 0;
  /**
   * View changes in a row that did not end in normal status: each doubles the time the next one
   * gets (up to 2^MAX_VIEW_CHANGE_BACKOFF times the timeout), reset once normal. Without it, a
   * view change that takes longer than the timeout (slow disks: every step waits for an fsync)
   * is overtaken by the next one, again and again, and no view ever starts.
   */
  private failedViewChanges = 0;
  private ticksSinceGetState = Number.MAX_SAFE_INTEGER;
  /** Ticks since this replica's view-change messages last left (see viewChangeResendTicks). */
  private ticksSinceViewChangeSent = 0;

  private recovering: Recovering | null = null;
  private readonly counters = { viewChanges: 0, stateTransfers: 0, recoveries: 0 };

  constructor(o: VrOptions) {
    this.id = o.id;
    const limits: Record<string, unknown> = { ...DEFAULT_VR_LIMITS };
    for (const k of Object.keys(DEFAULT_VR_LIMITS)) {
      const v = (o as unknown as Record<string, unknown>)[k];
      if (v !== undefined) limits[k] = v;
    }
    if ((o as Partial<VrLimits>).maxProposalBytes === undefined && o.maxCommandBytes !== undefined) limits['maxProposalBytes'] = o.maxCommandBytes;
    this.limits = limits as unknown as VrLimits;
    assert(this.limits.viewChangeTimeoutTicks >= 2 && this.limits.heartbeatIntervalTicks >= 1 && this.limits.viewChangeResendTicks >= 1, 'view-change timeout of at least 2 ticks, heartbeat and view-change resend of at least 1');
    assert(this.limits.maxOpsPerMessage >= 1 && this.limits.maxInflightOps >= 1 && this.limits.maxApplyPerReady >= 1, 'limits of at least one op');
    this.random = o.random;
    this.mutant = (o.mutant ?? null) as VrMutant | null;
    const restored = o.restored;
    const snap = restored?.snapshot ?? null;
    this.membership = snap?.meta.membership ?? o.membership;
    this.members = [...this.membership.voters].sort();
    assert(this.members.length >= 1, 'a configuration of at least one member');
    assert(this.membership.outgoingVoters.length === 0, 'VR runs a fixed configuration (no joint one)');
    this.quorum = majority(this.members.length);
    this.resetTimer();

    const hard = restored?.hardState ?? null;
    if (this.limits.diskless) {
      // Diskless: nothing but the marker is ever written. Found, it means this replica ran before
      // and lost its state: recover. Not found, this is the first start: write it.
      // What the state machine kept (its own durable state, or the driver's snapshot) is committed.
      this.persistedHard = hard;
      this.applied = Math.max(0, o.applied ?? 0, snap?.meta.index ?? 0) as OpNumber;
      this.commit = this.applied;
      this.base = this.applied;
      this.verified = this.applied;
      if (snap !== null && snap.meta.index === this.applied) {
        this.baseTerm = snap.meta.term;
        this.snapshot = snap;
      }
      // A lone member has no one to recover from: it starts over from what its state machine kept.
      if (hard !== null && this.members.length > 1) this.startRecovery();
      return;
    }
    if (snap !== null) {
      this.base = snap.meta.index;
      this.baseTerm = snap.meta.term;
      this.snapshot = snap;
    }
    for (const e of restored?.entries ?? []) {
      if (e.index <= this.base) continue;
      if (e.index !== this.opNumber() + 1) break; // a gap: what follows is not this log's
      this.log.push(e);
    }
    const applied = Math.max(this.base, o.applied ?? 0) as OpNumber;
    if (applied > this.opNumber()) {
      // The state machine persisted ops its log lost (unsynced when the power went): they are
      // committed; the log starts after them.
      this.log = [];
      this.base = applied;
      this.baseTerm = 0 as View;
    }
    this.applied = applied;
    this.commit = applied;
    this.verified = this.opNumber();
    this.durableOp = this.opNumber();
    this.persistedHard = hard;
    if (hard !== null) {
      this.view = hard.view;
      this.lastNormalView = hard.lastNormalView;
      assert(this.lastNormalView <= this.view, () => `last normal view ${this.lastNormalView} above view ${this.view}`);
    }
    if (this.lastNormalView < this.view) {
      this.currentStatus = 'view-change';
    } else if (hard !== null && this.primaryOf(this.view) === this.id && this.members.length > 1) {
      // Its last PREPAREs may have left before its own write of those ops was durable, and that
      // write may be lost: assigning those op-numbers again in this view would give two ops one
      // (op, view). A view change instead collects them from the backups that hold them.
      this.startViewChange((this.view + 1) as View);
    }
  }

  // ---------------------------------------------------------------- the log

  private opNumber(): OpNumber {
    return (this.base + this.log.length) as OpNumber;
  }

  private entry(op: number): LogEntry | undefined {
    return op <= this.base ? undefined : this.log[op - this.base - 1];
  }

  private termAtOp(op: number): View | undefined {
    if (op === this.base) return this.baseTerm;
    return this.entry(op)?.term as View | undefined;
  }

  /** Drop every op above `op` (never a committed one). */
  private truncateAfter(op: OpNumber): void {
    assert(op >= this.commit, () => `${this.id}: truncating to ${op} below commit-number ${this.commit}`);
    if (op >= this.opNumber()) return;
    assert(op >= this.base, () => `${this.id}: truncating to ${op} below the checkpoint ${this.base}`);
    this.log.length = op - this.base;
    if (this.verified > op) this.verified = op;
    this.markDirty((op + 1) as OpNumber);
  }

  private append(e: LogEntry): void {
    assert(e.index === this.opNumber() + 1, () => `${this.id}: op ${e.index} appended after ${this.opNumber()}`);
    if (this.verified === this.opNumber()) this.verified = e.index;
    this.log.push(e);
    this.markDirty(e.index);
  }

  /**
   * Ops of the target log (see `verified`), consecutive: each one after `verified` either is the
   * op this replica holds there already (same op-number and view: the same op, and the same log
   * below it) or replaces it and everything after it.
   */
  private takeOps(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.index <= this.verified) continue;
      if (e.index !== this.verified + 1) break;
      if (e.index <= this.base) {
        this.verified = e.index;
        continue;
      }
      const have = this.entry(e.index);
      if (have !== undefined && have.term === e.term) {
        this.verified = e.index;
        continue;
      }
      this.truncateAfter((e.index - 1) as OpNumber);
      this.append(e);
    }
  }

  /** In normal status and holding the view's log (not still fetching it after entering the view by state transfer). */
  private caughtUp(): boolean {
    return this.currentStatus === 'normal' && this.lastNormalView === this.view;
  }

  private markDirty(op: OpNumber): void {
    if (this.dirtyFrom === null || op < this.dirtyFrom) this.dirtyFrom = op;
    if (this.outstanding !== null && (this.rewrittenSinceReady === null || op < this.rewrittenSinceReady)) this.rewrittenSinceReady = op;
    if (op <= this.durableOp) this.durableOp = (op - 1) as OpNumber;
  }

  /** Ops after `after`, as many as one message may carry. */
  private opsAfter(after: number, through: number = this.opNumber()): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let op = after + 1; op <= through && out.length < this.limits.maxOpsPerMessage; op++) {
      const e = this.entry(op);
      assert(e !== undefined, () => `${this.id}: op ${op} in the log (base ${this.base}, op-number ${this.opNumber()})`);
      const size = e.data.byteLength + OP_OVERHEAD_BYTES;
      if (out.length > 0 && bytes + size > this.limits.maxBytesPerMessage) break;
      out.push(e);
      bytes += size;
    }
    return out;
  }

  private setCommit(c: number): void {
    const to = Math.min(c, this.verified);
    if (to > this.commit) this.commit = to as OpNumber;
    assert(this.commit <= this.opNumber(), () => `${this.id}: commit-number ${this.commit} above op-number ${this.opNumber()}`);
  }

  // ---------------------------------------------------------------- roles

  private primaryOf(view: number): NodeId {
    return this.members[view % this.members.length]!;
  }

  private isPrimary(): boolean {
    return this.currentStatus === 'normal' && this.primaryOf(this.view) === this.id;
  }

  private others(): NodeId[] {
    return this.members.filter((m) => m !== this.id);
  }

  /** A message that rests on this Ready's persist (a vote, an acknowledgement, a view's log): it leaves once that is durable. */
  private send(m: Outbound): void {
    this.msgs.push({ ...m, from: this.id } as VrMessage);
  }

  /**
   * A message that rests on nothing this replica has yet to make durable, so it may leave before
   * the Ready's persist: the primary's PREPAREs and COMMITs (its own write of an op counts only
   * once durable, and a restarted primary never assigns op-numbers in its old view again), state
   * transfer, recovery and reads. A slow disk then delays no heartbeat: before this, a primary
   * whose fsyncs took longer than the backups' timeout was deposed again and again (seed 286).
   */
  private sendEarly(m: Outbound): void {
    if (this.mutant === 'send-after-persist') return this.send(m);
    this.early.push({ ...m, from: this.id } as VrMessage);
  }

  private resetTimer(): void {
    this.ticksSinceHeard = 0;
    const backoff = this.mutant === 'no-view-change-backoff' ? 0 : Math.min(this.failedViewChanges, MAX_VIEW_CHANGE_BACKOFF);
    const base = this.limits.viewChangeTimeoutTicks * 2 ** backoff;
    this.timeout = base + this.random.int(0, base - 1);
  }

  /** Leave the current view's normal work: reads wait on a primary that no longer is one. */
  private dropViewState(): void {
    this.reads = [];
    this.forwardedReads.clear();
    this.acks.clear();
    this.fetch = null;
  }

  private startViewChange(view: View): void {
    assert(view > this.view || (view === this.view && this.currentStatus !== 'normal'), () => `${this.id}: view change to ${view} from view ${this.view} (${this.currentStatus})`);
    if (this.currentStatus === 'view-change') this.failedViewChanges++;
    if (view > this.view) {
      this.view = view;
      this.startViewChanges.clear();
      this.doViewChanges.clear();
      this.knownCommit.clear();
      this.doViewChangeSent = false;
    }
    this.currentStatus = 'view-change';
    this.counters.viewChanges++;
    // Its DO-VIEW-CHANGE offers its whole log (ops past `verified` included: a log of its last-normal view).
    this.verified = this.opNumber();
    this.dropViewState();
    this.resetTimer();
    this.ticksSinceViewChangeSent = 0;
    for (const to of this.others()) this.send({ type: 'start-view-change', to, view: this.view });
    this.maybeDoViewChange();
  }

  /**
   * The view change goes on: our START-VIEW-CHANGE to every other replica again, and our
   * DO-VIEW-CHANGE to the new primary again once we sent it. A message lost in a view change was
   * otherwise never sent again in that view: the view was abandoned at its timeout, and after a
   * few failed ones (down primaries) that timeout had grown to seconds (the simulator's VR seed
   * 1695: a quorum up and connected, and the next view 5.9 s after the heal). Whoever has moved on
   * answers: a later view's replica with its view, the primary of this view, in normal status
   * already, with its START-VIEW.
   */
  private resendViewChange(): void {
    this.ticksSinceViewChangeSent = 0;
    for (const to of this.others()) this.send({ type: 'start-view-change', to, view: this.view });
    const primary = this.primaryOf(this.view);
    if (this.doViewChangeSent && primary !== this.id) this.send(this.doViewChange(primary));
  }

  /** After f START-VIEW-CHANGEs from others (the paper's step 2): our DO-VIEW-CHANGE to the new primary. */
  private maybeDoViewChange(): void {
    if (this.currentStatus !== 'view-change' || this.doViewChangeSent) return;
    if (this.startViewChanges.size < this.quorum - 1) return;
    this.doViewChangeSent = true;
    const dvc = this.doViewChange(this.primaryOf(this.view));
    if (dvc.to === this.id) this.onDoViewChange(dvc);
    else this.msgs.push(dvc);
  }

  private doViewChange(to: NodeId): DoViewChange {
    return {
      type: 'do-view-change', from: this.id, to, view: this.view, lastNormalView: this.lastNormalView,
      opNumber: this.opNumber(), commit: this.commit, entries: this.opsAfter(this.commit),
    };
  }

  private onDoViewChange(m: DoViewChange): void {
    if (m.view < this.view || this.currentStatus === 'recovering') return;
    if (m.view > this.view) this.startViewChange(m.view);
    if (this.currentStatus === 'normal') {
      // A replica whose START-VIEW was lost: send it again.
      if (this.isPrimary() && m.from !== this.id) this.sendStartView(m.from, m.commit);
      return;
    }
    if (this.primaryOf(this.view) !== this.id || this.fetch !== null) return;
    this.doViewChanges.set(m.from, m);
    this.knownCommit.set(m.from, m.commit);
    if (this.doViewChanges.size < this.quorum) return;
    this.chooseLog();
  }

  /**
   * The new primary has f + 1 DO-VIEW-CHANGEs: the log of the largest last-normal view, then the
   * largest op-number, becomes the view's log; the largest commit-number its commit-number.
   */
  private chooseLog(): void {
    let chosen: DoViewChange | null = null;
    let commit = this.commit;
    for (const d of this.doViewChanges.values()) {
      commit = Math.max(commit, d.commit) as OpNumber;
      if (chosen === null) { chosen = d; continue; }
      const better = this.mutant === 'do-view-change-longest-log'
        ? d.opNumber > chosen.opNumber
        : d.lastNormalView > chosen.lastNormalView || (d.lastNormalView === chosen.lastNormalView && d.opNumber > chosen.opNumber);
      if (better) chosen = d;
    }
    assert(chosen !== null, 'a quorum of DO-VIEW-CHANGEs');
    assert(chosen.opNumber >= commit || this.mutant !== null, () => `${this.id}: the chosen log (op-number ${chosen.opNumber}) holds every committed op (commit-number ${commit})`);
    if (chosen.from === this.id) {
      this.verified = this.opNumber();
    } else {
      // Our ops up to our commit-number are committed, so the same in the chosen log; above it
      // ours are replaced by the chosen log's: those it carried, the rest fetched from its sender.
      this.verified = this.commit;
      this.takeOps(chosen.entries);
    }
    this.fetch = { from: chosen.from, through: chosen.opNumber, commit: commit as OpNumber };
    if (this.verified < chosen.opNumber) {
      this.getState(chosen.from, true);
      return;
    }
    this.finishFetch();
  }

  /** The new primary holds the chosen log: it is the view's. */
  private finishFetch(): void {
    const f = this.fetch;
    assert(f !== null && this.verified >= f.through, 'the chosen log fetched');
    this.truncateAfter(f.through);
    this.startView(f.commit);
  }

  /** The new primary holds the view's log: normal status, START-VIEW to every backup. */
  private startView(commit: OpNumber): void {
    assert(this.primaryOf(this.view) === this.id, 'only the view\'s primary starts it');
    this.currentStatus = 'normal';
    this.failedViewChanges = 0;
    this.lastNormalView = this.view;
    this.fetch = null;
    assert(this.verified === this.opNumber(), 'the new primary holds the whole chosen log');
    this.setCommit(commit);
    this.dropViewState();
    this.sentOp = this.opNumber();
    this.toldCommit = this.commit;
    this.heartbeatElapsed = 0;
    for (const to of this.others()) this.sendStartView(to, this.knownCommit.get(to) ?? this.commit);
  }

  private sendStartView(to: NodeId, theirCommit: OpNumber): void {
    const from = Math.max(Math.min(theirCommit, this.opNumber()), this.base) as OpNumber;
    // One START-VIEW to a replica waits for our persist at most: a replica still in the view change
    // sends its START-VIEW-CHANGE and DO-VIEW-CHANGE every viewChangeResendTicks, each answered
    // here, and behind a slow save those answers (each with the view's ops) would pile up and all
    // leave at once. The one waiting stays, unless this one starts lower (it is built from now).
    const waiting = this.msgs.findIndex((m) => m.type === 'start-view' && m.to === to && m.view === this.view);
    if (waiting >= 0) {
      if ((this.msgs[waiting] as Extract<VrMessage, { type: 'start-view' }>).fromOp <= from + 1) return;
      this.msgs.splice(waiting, 1);
    }
    this.send({ type: 'start-view', to, view: this.view, opNumber: this.opNumber(), commit: this.commit, fromOp: (from + 1) as OpNumber, entries: this.opsAfter(from) });
  }

  private onStartView(m: Extract<VrMessage, { type: 'start-view' }>): void {
    // (Also in our view while we are normal but still fetching its log, having entered it by a PREPARE that overtook this.)
    if (this.currentStatus === 'recovering' || m.view < this.view || (m.view === this.view && this.caughtUp())) return;
    if (m.from !== this.primaryOf(m.view)) return;
    // Our ops up to our commit-number are the view's; those above it are checked against the
    // message's (one that starts above our commit-number leaves a stretch to fetch first).
    this.enterView(m.view);
    this.takeOps(m.entries);
    this.catchUp(m.opNumber, m.commit, true, true);
  }

  /**
   * Normal status in `view` as a backup (START-VIEW, or state transfer into a later view), not
   * caught up yet: the last-normal view stays the one whose log this replica holds until it holds
   * the new view's log through the primary's op-number (catchUp). Were it to claim the new view
   * with its log cut to its commit-number (the paper's state transfer, the truncate-on-transfer
   * mutant), a view change among such replicas could lose the ops they cut, committed ones too.
   */
  private enterView(view: View): void {
    if (view > this.view) {
      this.startViewChanges.clear();
      this.doViewChanges.clear();
      this.knownCommit.clear();
      this.doViewChangeSent = false;
    }
    this.view = view;
    this.currentStatus = 'normal';
    this.failedViewChanges = 0;
    this.dropViewState();
    this.resetTimer();
    if (this.mutant === 'truncate-on-transfer') {
      this.truncateAfter(this.commit);
      this.lastNormalView = view;
    }
    this.verified = this.caughtUp() ? this.opNumber() : this.commit;
  }

  /**
   * A backup took ops of its view up to the primary's op-number `primaryOp` (or some of them):
   * once it holds the view's log that far it is caught up (its ops above are not the view's:
   * dropped) and acknowledges; commit what the primary committed; ask for the rest if behind.
   */
  private catchUp(primaryOp: OpNumber, primaryCommit: OpNumber, now: boolean, ack: boolean): void {
    const primary = this.primaryOf(this.view);
    let justCaughtUp = false;
    if (!this.caughtUp() && this.verified >= primaryOp) {
      this.truncateAfter(this.verified);
      this.lastNormalView = this.view;
      justCaughtUp = true;
    }
    this.setCommit(primaryCommit);
    if (justCaughtUp || (ack && this.caughtUp())) this.send({ type: 'prepare-ok', to: primary, view: this.view, opNumber: this.opNumber() });
    if (this.verified < primaryOp) this.getState(primary, now);
  }

  private getState(from: NodeId, now: boolean): void {
    if (!now && this.ticksSinceGetState < this.limits.getStateRetryTicks) return;
    this.ticksSinceGetState = 0;
    this.counters.stateTransfers++;
    this.sendEarly({ type: 'get-state', to: from, view: this.view, opNumber: this.verified });
  }

  // ---------------------------------------------------------------- the Replica contract

  tick(): void {
    this.ticksSinceGetState++;
    if (this.currentStatus === 'recovering') {
      this.ticksSinceHeard++;
      if (this.ticksSinceHeard >= this.timeout) {
        // No answer, or the primary moved on while we fetched from it: a new attempt, a new nonce.
        this.startRecovery();
      }
      return;
    }
    if (this.isPrimary()) {
      this.heartbeatElapsed++;
      if (this.heartbeatElapsed >= this.limits.heartbeatIntervalTicks) {
        this.heartbeatElapsed = 0;
        this.toldCommit = this.commit;
        for (const to of this.others()) this.sendEarly({ type: 'commit', to, view: this.view, commit: this.commit, opNumber: this.opNumber() });
      }
      return;
    }
    if (this.members.length === 1 && this.currentStatus === 'view-change') {
      this.startViewChange(this.view);
      return;
    }
    this.ticksSinceHeard++;
    if (this.ticksSinceHeard >= this.timeout) {
      this.startViewChange((this.view + 1) as View);
      return;
    }
    // (Not while messages of ours still wait for a save: on a slow disk resends would pile up
    // behind it. At most one batch waits, and one rides the Ready being saved.)
    if (this.currentStatus === 'view-change' && this.mutant !== 'no-view-change-resend' &&
      ++this.ticksSinceViewChangeSent >= this.limits.viewChangeResendTicks && this.msgs.length === 0) this.resendViewChange();
    if (this.fetch !== null && this.ticksSinceGetState >= this.limits.getStateRetryTicks) {
      this.getState(this.fetch.from, true);
    }
  }

  step(m: VrMessage): void {
    if (m.to !== this.id || !this.members.includes(m.from) || m.from === this.id) return;
    switch (m.type) {
      case 'prepare':
      case 'commit':
        return this.onPrimaryMessage(m);
      case 'prepare-ok':
        if (!this.isPrimary() || m.view !== this.view) return;
        this.acks.set(m.from, Math.max(this.acks.get(m.from) ?? 0, Math.min(m.opNumber, this.opNumber())) as OpNumber);
        return this.advanceCommit();
      case 'start-view-change':
        if (this.currentStatus === 'recovering') return;
        if (m.view < this.view) {
          // A replica behind us in views (back from a crash or a partition, its timers backed
          // off): tell it of our view rather than wait for its timer to climb there.
          if (this.mutant === 'ignore-lower-view-change') return;
          if (this.currentStatus === 'view-change') this.send({ type: 'start-view-change', to: m.from, view: this.view });
          else if (this.isPrimary()) this.sendStartView(m.from, this.commit);
          return;
        }
        if (m.view > this.view) this.startViewChange(m.view);
        if (this.currentStatus === 'normal') {
          if (this.isPrimary()) this.sendStartView(m.from, this.commit);
          return;
        }
        this.startViewChanges.add(m.from);
        return this.maybeDoViewChange();
      case 'do-view-change':
        return this.onDoViewChange(m);
      case 'start-view':
        return this.onStartView(m);
      case 'get-state':
        return this.onGetState(m);
      case 'new-state':
        return this.onNewState(m);
      case 'new-state-snapshot':
        return this.onNewStateSnapshot(m);
      case 'recovery':
        if (this.currentStatus !== 'normal') return;
        this.sendEarly({
          type: 'recovery-response', to: m.from, view: this.view, nonce: m.nonce, primary: this.isPrimary(),
          opNumber: this.isPrimary() ? this.opNumber() : 0 as OpNumber, commit: this.isPrimary() ? this.commit : 0 as OpNumber,
        });
        return;
      case 'recovery-response':
        return this.onRecoveryResponse(m);
      case 'read-index':
        if (!this.isPrimary() || m.view !== this.view || this.reads.length >= this.limits.maxPendingReads) return;
        this.reads.push({ requestId: m.requestId, origin: m.from, at: null });
        return;
      case 'read-index-response':
        if (!this.forwardedReads.delete(m.requestId) || m.view !== this.view) return;
        this.readStates.push({ requestId: m.requestId, index: m.index });
        return;
      default:
        unreachable(m, 'vr message');
    }
  }

  private onPrimaryMessage(m: Extract<VrMessage, { type: 'prepare' | 'commit' }>): void {
    if (this.currentStatus === 'recovering' || m.view < this.view || m.from !== this.primaryOf(m.view)) return;
    // Of a later view (or of ours while we still change it): its START-VIEW passed us by. State
    // transfer: take the view, fetch its log from our commit-number on.
    if (m.view > this.view || this.currentStatus === 'view-change') this.enterView(m.view);
    assert(!this.isPrimary(), () => `${this.id}: a PREPARE from ${m.from} in a view this replica leads`);
    this.resetTimer();
    if (m.type === 'commit') {
      // A caught-up backup holding ops the primary has not committed acknowledges them again:
      // its PREPAREOK may have been lost.
      this.catchUp(m.opNumber, m.commit, false, this.opNumber() > m.commit);
      return;
    }
    const last = m.entries[m.entries.length - 1]!;
    if (m.entries[0]!.index > this.verified + 1) {
      // Ops before these never reached us: state transfer.
      this.setCommit(m.commit);
      this.getState(m.from, false);
      return;
    }
    const wasCaughtUp = this.caughtUp();
    if (wasCaughtUp) {
      for (const e of m.entries) {
        if (e.index > this.opNumber()) this.append(e);
        else assert(e.index <= this.base || this.termAtOp(e.index) === e.term, () => `${this.id}: op ${e.index} of view ${e.term} differs from the one it holds in the same view`);
      }
      this.setCommit(m.commit);
      const ok = { type: 'prepare-ok' as const, to: m.from, view: this.view, opNumber: this.opNumber(), from: this.id };
      if (this.mutant === 'prepare-ok-before-persist') this.early.push(ok);
      else this.msgs.push(ok);
      return;
    }
    this.takeOps(m.entries);
    this.catchUp(last.index, m.commit, false, true);
  }


  private advanceCommit(): void {
    if (!this.isPrimary()) return;
    const held: number[] = [this.durableOp];
    for (const b of this.others()) held.push(this.acks.get(b) ?? 0);
    held.sort((a, b) => b - a);
    const need = this.mutant === 'commit-before-quorum' ? Math.max(1, this.quorum - 1) : this.quorum;
    const c = held[need - 1] ?? 0;
    if (c > this.commit) this.setCommit(c);
    this.serveReads();
  }

  private serveReads(): void {
    if (!this.isPrimary()) return;
    const keep: PendingRead[] = [];
    for (const r of this.reads) {
      if (r.at === null || r.at > this.commit) { keep.push(r); continue; }
      if (r.origin === null) this.readStates.push({ requestId: r.requestId, index: r.at });
      else this.sendEarly({ type: 'read-index-response', to: r.origin, view: this.view, requestId: r.requestId, index: r.at });
    }
    this.reads = keep;
  }

  private onGetState(m: Extract<VrMessage, { type: 'get-state' }>): void {
    // Our log in this view: a normal replica's, or the chosen DO-VIEW-CHANGE sender's (frozen
    // while it changes view; the new primary asks it for the rest of the log it chose). In a view
    // change it goes to that primary only: to a backup asking for the view's log it is not that
    // log, and one that took it as the view's would count as normal in the view with it and win
    // the next view change (view-change-log-not-served.txt).
    if (m.view !== this.view) return;
    if (!(this.caughtUp() || (this.currentStatus === 'view-change' && m.from === this.primaryOf(this.view)))) return;
    if (m.opNumber >= this.opNumber()) return;
    if (m.opNumber < this.base) {
      if (this.snapshot === null) return;
      this.sendEarly({ type: 'new-state-snapshot', to: m.from, view: this.view, opNumber: this.opNumber(), commit: this.commit, snapshot: this.snapshot });
      return;
    }
    this.sendEarly({ type: 'new-state', to: m.from, view: this.view, opNumber: this.opNumber(), commit: this.commit, entries: this.opsAfter(m.opNumber) });
  }

  private onNewState(m: Extract<VrMessage, { type: 'new-state' }>): void {
    if (m.view !== this.view || m.from !== this.transferSource()) return;
    this.takeOps(m.entries);
    this.continueTransfer(m.opNumber, m.commit);
  }

  private onNewStateSnapshot(m: Extract<VrMessage, { type: 'new-state-snapshot' }>): void {
    if (m.view !== this.view || m.from !== this.transferSource()) return;
    const s = m.snapshot;
    if (s.meta.index > this.verified) {
      // The log starts after the checkpoint. Ops we hold above it stay only if we hold its last
      // op (same op-number and view: the same log up to there); else none of ours is the target's.
      const keep = this.termAtOp(s.meta.index) === s.meta.term ? this.log.slice(Math.max(0, s.meta.index - this.base)) : [];
      this.log = keep;
      this.base = s.meta.index;
      this.baseTerm = s.meta.term;
      this.markDirty((s.meta.index + 1) as OpNumber);
      this.pendingSnapshot = s;
      this.snapshot = s;
      this.verified = s.meta.index;
      this.commit = s.meta.index;
      this.applied = s.meta.index;
      this.durableOp = 0 as OpNumber;
    }
    this.continueTransfer(m.opNumber, m.commit);
  }

  /** Whom this replica takes state from now: the primary (normal backup, recovering), the chosen log's sender (new primary); null: nobody. */
  private transferSource(): NodeId | null {
    switch (this.currentStatus) {
      case 'normal':
        return this.isPrimary() ? null : this.primaryOf(this.view);
      case 'view-change':
        return this.fetch?.from ?? null;
      case 'recovering':
        return this.recovering?.target?.primary ?? null;
    }
  }

  /** State transfer took a NEWSTATE: go on with whatever waited for it. */
  private continueTransfer(senderOp: OpNumber, senderCommit: OpNumber): void {
    switch (this.currentStatus) {
      case 'normal':
        this.resetTimer();
        return this.catchUp(senderOp, senderCommit, true, true);
      case 'view-change': {
        const f = this.fetch;
        assert(f !== null, 'a new primary fetching');
        if (this.verified < f.through) return this.getState(f.from, true);
        return this.finishFetch();
      }
      case 'recovering': {
        const t = this.recovering?.target ?? null;
        assert(t !== null, 'a recovery with a target');
        this.setCommit(Math.min(senderCommit, t.commit));
        if (this.verified < t.through) return this.getState(t.primary, true);
        return this.finishRecovery();
      }
    }
  }

  // ---------------------------------------------------------------- recovery (diskless)

  private startRecovery(): void {
    this.currentStatus = 'recovering';
    this.counters.recoveries++;
    this.recovering = { nonce: this.random.int(1, NONCE_RANGE), responses: new Map(), target: null };
    this.resetTimer();
    this.sendRecovery();
  }

  private sendRecovery(): void {
    const r = this.recovering;
    if (r === null) return;
    for (const to of this.others()) this.sendEarly({ type: 'recovery', to, view: this.view, nonce: r.nonce });
  }

  private onRecoveryResponse(m: Extract<VrMessage, { type: 'recovery-response' }>): void {
    const r = this.recovering;
    if (this.currentStatus !== 'recovering' || r === null || r.target !== null) return;
    // The nonce ties the answer to this attempt: an answer to an earlier one (before another
    // crash) describes an older state.
    if (m.nonce !== r.nonce && this.mutant !== 'recovery-without-nonce') return;
    r.responses.set(m.from, { view: m.view, primary: m.primary, opNumber: m.opNumber, commit: m.commit });
    if (r.responses.size < this.quorum) return;
    let view = 0;
    for (const x of r.responses.values()) view = Math.max(view, x.view);
    const primary = this.primaryOf(view);
    const p = r.responses.get(primary);
    if (p === undefined || p.view !== view || !p.primary) return;
    this.view = view as View;
    r.target = { primary, view: view as View, through: p.opNumber, commit: p.commit };
    this.verified = this.commit;
    if (this.verified >= p.opNumber) return this.finishRecovery();
    this.getState(primary, true);
  }

  private finishRecovery(): void {
    const t = this.recovering?.target;
    assert(t !== undefined && t !== null, 'recovery has a target');
    this.recovering = null;
    this.truncateAfter(this.verified);
    this.lastNormalView = t.view;
    this.enterView(t.view);
    this.setCommit(t.commit);
    this.send({ type: 'prepare-ok', to: t.primary, view: this.view, opNumber: this.opNumber() });
  }

  // ---------------------------------------------------------------- clients

  propose(command: Uint8Array): ProposeResult {
    if (!this.isPrimary()) throw new NotLeader(this.leader());
    if (this.opNumber() - this.commit >= this.limits.maxInflightOps) throw new TooManyRequests('maxInflightOps', this.limits.maxInflightOps);
    if (command.byteLength > this.limits.maxProposalBytes) {
      throw new QuorateError('REQUEST_TOO_LARGE', `proposal of ${command.byteLength} bytes exceeds maxProposalBytes=${this.limits.maxProposalBytes}`);
    }
    const op = (this.opNumber() + 1) as OpNumber;
    this.append({ index: op, term: this.view, kind: 'command', data: command });
    for (const r of this.reads) if (r.at === null) r.at = op;
    return { index: op, term: this.view };
  }

  readIndex(requestId: string): void {
    const leader = this.leader();
    if (leader === null) throw new NotLeader(null);
    if (this.isPrimary()) {
      if (this.reads.length >= this.limits.maxPendingReads) throw new TooManyRequests('maxPendingReads', this.limits.maxPendingReads);
      this.reads.push({ requestId, origin: null, at: null });
      return;
    }
    if (this.forwardedReads.size >= this.limits.maxPendingReads) throw new TooManyRequests('maxPendingReads', this.limits.maxPendingReads);
    this.forwardedReads.add(requestId);
    this.sendEarly({ type: 'read-index', to: leader, view: this.view, requestId });
  }

  compact(index: Index, data: Uint8Array, membership?: Membership): void {
    assert(index <= this.applied, () => `compact(${index}) beyond applied ${this.applied}`);
    if (index <= this.base) return;
    const t = this.termAtOp(index);
    assert(t !== undefined, () => `${this.id}: view of op ${index}`);
    this.snapshot = { meta: { index, term: t, membership: membership ?? this.membership }, data };
    this.log = this.log.slice(index - this.base);
    this.base = index as OpNumber;
    this.baseTerm = t;
  }

  private leader(): NodeId | null {
    return this.currentStatus === 'normal' ? this.primaryOf(this.view) : null;
  }

  // ---------------------------------------------------------------- Ready

  private hardState(): VrHardState {
    if (this.limits.diskless) return { view: 0 as View, lastNormalView: 0 as View, diskless: true };
    return { view: this.view, lastNormalView: this.lastNormalView };
  }

  private hardChanged(): boolean {
    const h = this.hardState();
    const p = this.persistedHard;
    return p === null || p.view !== h.view || p.lastNormalView !== h.lastNormalView || p.diskless !== h.diskless;
  }

  /** Work the primary does as a Ready is made: a no-op for reads no op serves yet, PREPAREs for new ops. */
  private flush(): void {
    if (!this.isPrimary()) return;
    if (this.reads.some((r) => r.at === null) && this.opNumber() - this.commit < this.limits.maxInflightOps) {
      const op = (this.opNumber() + 1) as OpNumber;
      this.append({ index: op, term: this.view, kind: 'noop', data: new Uint8Array(0) });
      for (const r of this.reads) if (r.at === null) r.at = op;
    }
    while (this.sentOp < this.opNumber()) {
      const entries = this.opsAfter(this.sentOp);
      for (const to of this.others()) this.sendEarly({ type: 'prepare', to, view: this.view, entries, commit: this.commit });
      this.sentOp = entries[entries.length - 1]!.index;
      this.toldCommit = this.commit;
      this.heartbeatElapsed = 0;
    }
    if (this.commit > this.toldCommit) {
      // Backups learn of a commit at once, as Raft's followers do, not at the next heartbeat: they
      // apply it a round trip after the primary, so what a client reads or watches on a backup
      // right after its write was answered (a compaction, say) is there (watch-lease.test.ts).
      this.toldCommit = this.commit;
      if (this.mutant !== 'commit-on-heartbeat-only') {
        this.heartbeatElapsed = 0;
        for (const to of this.others()) this.sendEarly({ type: 'commit', to, view: this.view, commit: this.commit, opNumber: this.opNumber() });
      }
    }
    if (this.members.length === 1) this.advanceCommit();
  }

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    return this.msgs.length > 0 || this.early.length > 0 || this.readStates.length > 0 || this.dirtyFrom !== null ||
      this.pendingSnapshot !== null || this.hardChanged() || this.commit > this.applied ||
      (this.isPrimary() && (this.sentOp < this.opNumber() || this.commit > this.toldCommit || this.reads.some((r) => r.at === null)));
  }

  ready(): Ready<VrMessage, VrHardState> {
    assert(this.outstanding === null, 'ready() while a Ready is outstanding');
    this.flush();
    const diskless = this.limits.diskless;
    const hard = this.hardChanged() ? this.hardState() : null;
    if (hard !== null && this.early.length > 0 && this.mutant !== 'prepare-before-view-durable') {
      // Early messages rest on nothing but the view they name being durable: a primary that
      // became one (or a backup that moved) in this Ready and lost power before its write would
      // come back in the view change it was in, could lead the same view again and assign the
      // same op-numbers a second time, while a backup holds the first ops of that (op, view).
      this.msgs = [...this.early, ...this.msgs];
      this.early = [];
    }
    const entries = diskless || this.dirtyFrom === null ? [] : this.log.slice(Math.max(0, this.dirtyFrom - this.base - 1));
    // Never below the checkpoint (compact() may have passed a rewritten op): what is stored there is the snapshot's.
    const truncateFrom = diskless || this.dirtyFrom === null ? null : (this.pendingSnapshot !== null ? this.dirtyFrom : Math.max(this.dirtyFrom, this.base + 1) as OpNumber);
    // A diskless replica writes no log, but a checkpoint taken by state transfer still goes to its state machine through persist.
    const persist: Persist<VrHardState> | null = hard === null && entries.length === 0 && truncateFrom === null && this.pendingSnapshot === null
      ? null
      : { hardState: hard, entries, snapshot: this.pendingSnapshot, truncateFrom };
    const apply: LogEntry[] = [];
    const through = Math.min(this.commit, this.applied + this.limits.maxApplyPerReady);
    for (let op = this.applied + 1; op <= through; op++) {
      const e = this.entry(op);
      assert(e !== undefined, () => `${this.id}: committed op ${op} in the log (base ${this.base})`);
      apply.push(e);
    }
    if (apply.length > 0) this.applied = apply[apply.length - 1]!.index;
    const rd: Ready<VrMessage, VrHardState> = { persist, sendBeforePersist: this.early, send: this.msgs, apply, readStates: this.readStates };
    if (hard !== null) this.persistedHard = hard;
    this.dirtyFrom = null;
    this.pendingSnapshot = null;
    this.msgs = [];
    this.early = [];
    this.readStates = [];
    this.outstanding = rd;
    this.readyOp = this.opNumber();
    this.rewrittenSinceReady = null;
    return rd;
  }

  /**
   * The driver cannot take a Ready (one is being saved): the early messages made since (a
   * primary's COMMITs from tick(), answers to GETSTATE and reads) leave now. Not while the view
   * they name is not yet durable: the Ready being saved writes it, or a later step changed it
   * (the same rule as in ready()). Without this a primary whose save waits behind a snapshot's
   * fsyncs sends no heartbeat for longer than the backups' timeout and is deposed (seed 236 of
   * the etcd sweep; mutant heartbeats-wait-for-save).
   */
  takeEarly(): readonly VrMessage[] {
    if (this.early.length === 0 || this.mutant === 'heartbeats-wait-for-save') return NO_MESSAGES;
    if (this.hardChanged() || (this.outstanding?.persist?.hardState ?? null) !== null) return NO_MESSAGES;
    const out = this.early;
    this.early = [];
    return out;
  }

  advance(rd: Ready<VrMessage, VrHardState>): void {
    assert(this.outstanding === rd, 'advance() gets the outstanding Ready');
    this.outstanding = null;
    const durable = Math.min(this.readyOp, this.opNumber(), this.rewrittenSinceReady === null ? Infinity : this.rewrittenSinceReady - 1);
    if (durable > this.durableOp) this.durableOp = durable as OpNumber;
    this.advanceCommit();
  }

  status(): VrStatus {
    const role: VrRole = this.currentStatus === 'normal' ? (this.isPrimary() ? 'primary' : 'backup') : this.currentStatus;
    return {
      id: this.id, role, term: this.view, view: this.view, status: this.currentStatus, lastNormalView: this.lastNormalView,
      leader: this.leader(), leading: this.isPrimary(), commitIndex: this.commit, appliedIndex: this.applied, opNumber: this.opNumber(),
      membership: this.membership, counters: { ...this.counters },
    };
  }

  /** The log, for the simulator's invariants and the scenario tests. */
  logView(): LogView {
    return {
      firstIndex: () => (this.base + 1) as Index,
      lastIndex: () => this.opNumber(),
      termAt: (i) => this.termAtOp(i),
      entryAt: (i) => this.entry(i),
    };
  }

  /** The nonce of the recovery under way (for the scenario tests); null when not recovering. */
  recoveryNonce(): number | null {
    return this.recovering?.nonce ?? null;
  }

  /** The checkpoint held (for the scenario tests). */
  heldSnapshot(): Snapshot | null {
    return this.snapshot;
  }
}
