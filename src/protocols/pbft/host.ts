/**
 * How PBFT's committed batches reach the state machine (the `ReplicaHost` the one driver runs):
 * execute committed batches in order, hand the state to the core at every checkpoint, answer each
 * client with a MAC'd reply and keep the last reply per client, execute read-only requests, and
 * restore a transferred state. Pure: the driver persists, sends and times.
 *
 * An empty request is a read barrier (a member's ordered "nothing"): executed like any request,
 * it changes nothing and its result is empty.
 */
import { principalMember, type Authenticator, type Principal } from '../../core/authenticator.js';
import type { Index, NodeId, Term } from '../../core/ids.js';
import type { AppliedPosition, ApplyOutput, HostContext, ReplicaHost } from '../../core/protocol.js';
import type { Ready, Snapshot, StateMachine } from '../../core/replica.js';
import { checkpointClientTable, checkpointServiceState, type PbftReplica } from './pbft.js';
import { replyPayload } from './payloads.js';
import type { ClientRequest, PbftHardState, PbftMessage, PbftReady, PbftReply } from './types.js';

const EMPTY = new Uint8Array(0);

export class PbftHost<R> implements ReplicaHost<PbftMessage, PbftHardState, R> {
  readonly driverSnapshots = false;
  /** The last reply per client (Castro's reply table). */
  readonly lastReply = new Map<Principal, { timestamp: number; view: number; result: Uint8Array }>();
  lastApplied = 0;
  private readonly sm: StateMachine<R>;
  private readonly auth: Authenticator;

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
      if (batch.seq % this.replica.checkpointIntervalSeqs === 0) this.replica.compact(batch.seq as Index, this.sm.snapshot());
    }
    for (const r of rd.reads) this.answerRead(r, view, out);
    for (const { client, timestamp } of rd.replyAgain) {
      const last = this.lastReply.get(client);
      if (last !== undefined && last.timestamp === timestamp) out.send(this.reply(client, timestamp, last.view, last.result, false));
    }
    return rd.batches.length > 0 ? this.position() : null;
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

