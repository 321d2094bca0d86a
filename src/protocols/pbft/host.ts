/**
 * How PBFT's committed batches reach the state machine (the `ReplicaHost` the one driver runs):
 * execute committed batches in order, hand the state to the core at every checkpoint, answer each
 * client with a MAC'd reply and keep the last reply per client, execute read-only requests, and
 * restore a transferred state. Pure: the driver persists, sends and times.
 *
 * An empty request is a read barrier (a member's ordered "nothing"): executed like any request,
 * it changes nothing and its result is empty.
 *
 * A checkpoint's state is encoded off the event loop's critical path: at a checkpoint's sequence
 * number the host begins an encoding of the state as of that number (StateMachine.beginSnapshot;
 * a state machine without it is snapshotted whole, at once), later batches go on executing, the
 * driver steps the encoding a slice per turn (encodingInFlight), and only once it is whole does
 * the core get it (beginCompact(seq, bytes)); the core then packs it with the client table and
 * digests its parts, also a slice per turn (the same stepper), and only then sends its CHECKPOINT.
 * Nothing of it is durable or sent before then, so a crash in the middle loses nothing: the
 * replica restarts from its stable checkpoint and executes again from there.
 *
 * At most one checkpoint is encoded at a time (MAX_CHECKPOINT_ENCODINGS_IN_FLIGHT). One still
 * encoding when the next checkpoint's batch executes is finished at once, in that turn, before the
 * next begins; it is never skipped. Every honest replica then signs every checkpoint: at
 * N = 3f + 1 with f liars a checkpoint becomes stable only with every honest replica's CHECKPOINT,
 * and a replica that skipped the one the others proved would wait for its own next one (the log
 * window, logWindowSeqs, already bounds how far execution runs ahead of the stable checkpoint).
 * Finishing at once costs one turn no more than the whole encode that every checkpoint cost before,
 * and only when encoding is slower than a checkpoint interval of execution. The same holds for the
 * core's compaction (MAX_COMPACTIONS_IN_FLIGHT): one in flight when the next begins is finished first.
 */
import { principalMember, type Authenticator, type Principal } from '../../core/authenticator.js';
import type { Index, NodeId, Term } from '../../core/ids.js';
import type { AppliedPosition, ApplyOutput, HostContext, HostEncoding, ReplicaHost } from '../../core/protocol.js';
import type { Ready, Snapshot, SnapshotEncoding, StateMachine } from '../../core/replica.js';
import { assert } from '../../core/assert.js';
import { checkpointClientTable, checkpointServiceState, type PbftReplica } from './pbft.js';
import { replyPayload } from './payloads.js';
import type { ClientRequest, PbftHardState, PbftMessage, PbftReady, PbftReply } from './types.js';

const EMPTY = new Uint8Array(0);

/** Checkpoint encodings in flight at once (see the header: the next one finishes the last first). */
export const MAX_CHECKPOINT_ENCODINGS_IN_FLIGHT = 1;

/** A checkpoint being encoded: its sequence number and the encoding (null: the state is taken whole when it ends, the mutant's). */
interface CheckpointEncoding {
  readonly seq: number;
  readonly source: SnapshotEncoding | null;
}

export class PbftHost<R> implements ReplicaHost<PbftMessage, PbftHardState, R> {
  readonly driverSnapshots = false;
  /** The last reply per client (Castro's reply table). */
  readonly lastReply = new Map<Principal, { timestamp: number; view: number; result: Uint8Array }>();
  lastApplied = 0;
  private readonly sm: StateMachine<R>;
  private readonly auth: Authenticator;
  /**
   * The checkpoint being encoded (at most MAX_CHECKPOINT_ENCODINGS_IN_FLIGHT): its seq is at most
   * lastApplied and above every checkpoint handed to the core; null once handed over or dropped.
   */
  private encoding: CheckpointEncoding | null = null;
  /** The driver's handle on `encoding`, made once. */
  private readonly stepper: HostEncoding = { step: (budgetBytes) => this.stepEncoding(budgetBytes) };

  constructor(readonly replica: PbftReplica, private readonly context: HostContext<PbftMessage, PbftHardState, R>) {
    this.sm = context.stateMachine;
    if (context.authenticator === null) throw new Error('a PBFT host needs the replica\'s authenticator');
    this.auth = context.authenticator;
  }

  get id(): NodeId {
    return this.replica.id;
  }

  /**
   * The service starts from the snapshot on disk if the replica came back from that checkpoint
   * (it does, unless a mutant threw its disk away). A PBFT state machine is rebuilt from its
   * checkpoint: the replica executes again what it committed above it.
   */
  restart(snapshot: Snapshot | null): AppliedPosition | null {
    if (snapshot === null || this.replica.status().stableCheckpoint !== snapshot.meta.index) return null;
    return this.install(snapshot);
  }

  install(snapshot: Snapshot): AppliedPosition {
    // A checkpoint being encoded reads the state this one replaces (and is below it: the core
    // fetches only a state above what it executed); the core would ignore its bytes anyway.
    this.abandonEncoding();
    this.sm.restore(checkpointServiceState(snapshot.data));
    this.lastApplied = snapshot.meta.index;
    this.lastReply.clear();
    return this.position();
  }

  executedClients(snapshot: Snapshot): ReadonlyMap<Principal, number> {
    return checkpointClientTable(snapshot.data);
  }

  apply(ready: Ready<PbftMessage, PbftHardState>, out: ApplyOutput<PbftMessage, R>): AppliedPosition | null {
    const rd = ready as PbftReady;
    const view = this.replica.status().view;
    for (const batch of rd.batches) {
      batch.requests.forEach((r, i) => {
        // Executed before (a faulty primary ordered it again): not again; its reply stands.
        if (batch.fresh[i] !== true) return;
        const value = r.op.byteLength === 0 ? undefined : this.sm.apply(r.op, batch.seq as Index, principalMember(r.client));
        const result = this.encode(value);
        this.lastReply.set(r.client, { timestamp: r.timestamp, view, result });
        out.executed(r.client, r.timestamp, value, false, batch.seq as Index);
        out.send(this.reply(r.client, r.timestamp, view, result, false));
      });
      this.lastApplied = batch.seq;
      if (batch.seq % this.replica.checkpointIntervalSeqs === 0) this.beginCheckpoint(batch.seq);
    }
    for (const r of rd.reads) this.answerRead(r, view, out);
    for (const { client, timestamp } of rd.replyAgain) {
      const last = this.lastReply.get(client);
      if (last !== undefined && last.timestamp === timestamp) out.send(this.reply(client, timestamp, last.view, last.result, false));
    }
    return rd.batches.length > 0 ? this.position() : null;
  }

  encodingInFlight(): HostEncoding | null {
    return this.encoding === null && !this.replica.compactionInFlight() ? null : this.stepper;
  }

  abandonEncoding(): void {
    // The core's compaction too: it packs a state this host no longer stands behind (see stepEncoding).
    this.replica.abandonCompact();
    const e = this.encoding;
    if (e === null) return;
    this.encoding = null;
    e.source?.abandon();
  }

  /**
   * The batch at checkpoint `seq` has executed: begin encoding the state as of now (a state
   * machine without beginSnapshot is snapshotted whole, and the core gets it at once, as before).
   */
  private beginCheckpoint(seq: number): void {
    // The one in flight is finished first (see the header), so checkpoints reach the core in order.
    if (this.encoding !== null) this.finishEncoding();
    assert((this.encoding === null ? 0 : 1) < MAX_CHECKPOINT_ENCODINGS_IN_FLIGHT, 'at most MAX_CHECKPOINT_ENCODINGS_IN_FLIGHT checkpoint encodings in flight');
    if (this.replica.mutant === 'checkpoint-sees-later-batches') {
      // Broken on purpose: the state is read when the encoding ends, after later batches executed.
      this.encoding = { seq, source: this.sm.beginSnapshot?.() ?? null };
      return;
    }
    if (this.sm.beginSnapshot === undefined) return this.replica.compact(seq as Index, this.sm.snapshot());
    this.encoding = { seq, source: this.sm.beginSnapshot() };
  }

  /**
   * About `budgetBytes` more of the checkpoint work in flight: first the core's compaction of the
   * last checkpoint encoded (packing and digesting its state: PbftReplica.beginCompact), then the
   * encoding of the next, whose bytes begin its own compaction, stepped in the same turn (so a state
   * under a slice is done in the turn its encoding ends, as before; a turn does at most about two
   * budgets). True once none is in flight.
   */
  private stepEncoding(budgetBytes: number): boolean {
    if (!this.replica.stepCompact(budgetBytes)) return false;
    const e = this.encoding;
    if (e === null) return true;
    const bytes = e.source === null ? EMPTY : e.source.step(budgetBytes);
    if (bytes === null) return false;
    this.checkpointEncoded(e, bytes);
    return this.replica.stepCompact(budgetBytes);
  }

  /** Finish the checkpoint in flight in this turn (the next checkpoint's batch executed first). */
  private finishEncoding(): void {
    const e = this.encoding!;
    let bytes: Uint8Array | null = e.source === null ? EMPTY : null;
    while (bytes === null) bytes = e.source!.step(Number.POSITIVE_INFINITY);
    this.checkpointEncoded(e, bytes);
  }

  private checkpointEncoded(e: CheckpointEncoding, bytes: Uint8Array): void {
    assert(this.encoding === e && e.seq <= this.lastApplied, () => `a checkpoint is encoded at or below what executed (${e.seq}, executed ${this.lastApplied})`);
    this.encoding = null;
    // The mutant's: the state as it is now, later batches and all.
    const state = this.replica.mutant === 'checkpoint-sees-later-batches' ? this.sm.snapshot() : bytes;
    // Packed and digested in slices too (stepEncoding); a compaction still in flight is finished first.
    this.replica.beginCompact(e.seq as Index, state);
  }

  snapshotToKeep(ready: Ready<PbftMessage, PbftHardState>): Snapshot | null {
    return (ready as PbftReady).stableCheckpoint;
  }

  reply(client: Principal, timestamp: number, view: number, result: Uint8Array, readOnly: boolean): PbftReply {
    const id = this.replica.id;
    return {
      type: 'reply', from: id, to: client as NodeId, view, client, timestamp, replica: id, result, readOnly,
      mac: this.auth.mac(replyPayload(view, client, timestamp, id, readOnly, result), client),
    };
  }

  /** Read-only optimisation: answer from the current state, if the state machine can answer without changing. */
  private answerRead(r: ClientRequest, view: number, out: ApplyOutput<PbftMessage, R>): void {
    if (this.sm.query === undefined) return; // the client times out and asks again as an ordered request
    const value = r.op.byteLength === 0 ? undefined : this.sm.query(r.op);
    out.executed(r.client, r.timestamp, value, true, this.lastApplied as Index);
    out.send(this.reply(r.client, r.timestamp, view, this.encode(value), true));
  }

  private encode(value: R | undefined): Uint8Array {
    return value === undefined ? EMPTY : this.context.encodeResult(value);
  }

  private position(): AppliedPosition {
    return { index: this.lastApplied as Index, term: this.replica.status().view as Term };
  }
}

