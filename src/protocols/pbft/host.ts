/**
 * What a PBFT replica's driver does besides moving messages: execute committed batches in order
 * on the service state machine, hand the state to the core at every checkpoint, answer each
 * client with a MAC'd reply and keep the last reply per client, execute read-only requests, and
 * restore a transferred state; hand what must be durable to a persister. Shared by the scenario
 * harness, the Byzantine simulator and the node runtime (pure: no I/O, no clock).
 */
import type { Authenticator, Principal } from '../../core/authenticator.js';
import type { Index, NodeId } from '../../core/ids.js';
import type { Persist, Snapshot, StateMachine } from '../../core/replica.js';
import { checkpointServiceState } from './pbft.js';
import { replyPayload, type ClientRequest, type CommittedBatch, type PbftHardState, type PbftMessage, type PbftReply, type PbftReplica } from './index.js';

export interface ServiceAdapter<R> {
  readonly sm: StateMachine<R>;
  /** Execute a read-only operation without changing the state. */
  query(op: Uint8Array): R;
  encodeResult(result: R): Uint8Array;
}

/**
 * Where the host's durable writes go. `save` must be durable before the messages process()
 * returns leave (the caller sends them only after); `saveCheckpoint` may lag.
 */
export interface PbftPersister {
  save(persist: Persist<PbftHardState>): void;
  saveCheckpoint(checkpoint: Snapshot): void;
}

export interface ExecutedRequest<R = unknown> {
  readonly seq: number;
  readonly client: Principal;
  readonly timestamp: number;
  readonly result: Uint8Array;
  /** The state machine's own result object. */
  readonly value: R;
}

export class PbftHost<R> {
  /** The last reply per client (Castro's reply table). */
  readonly lastReply = new Map<Principal, { timestamp: number; view: number; result: Uint8Array }>();
  lastApplied = 0;
  /** Called for every executed sequence number (invariants). */
  onExecute: ((batch: CommittedBatch, results: readonly ExecutedRequest<R>[]) => void) | null = null;
  onRestore: ((seq: number) => void) | null = null;
  /** Null: nothing is kept (scenario tests that never restart a replica). */
  persister: PbftPersister | null = null;

  /**
   * `restored`: the snapshot on disk when the replica restarted. The service starts from its state
   * if the replica came back from that checkpoint (it does, unless a mutant threw its disk away).
   */
  constructor(
    readonly replica: PbftReplica,
    readonly service: ServiceAdapter<R>,
    private readonly auth: Authenticator,
    restored: Snapshot | null = null,
  ) {
    if (restored !== null && replica.status().stableCheckpoint === restored.meta.index) {
      service.sm.restore(checkpointServiceState(restored.data));
      this.lastApplied = restored.meta.index;
    }
  }

  get id(): NodeId {
    return this.replica.id;
  }

  /** Run the Ready loop; return every message to send (protocol messages and replies). */
  process(): PbftMessage[] {
    const out: PbftMessage[] = [];
    while (this.replica.hasReady()) {
      const rd = this.replica.ready();
      if (rd.persist !== null) this.persister?.save(rd.persist);
      if (rd.stableCheckpoint !== null) this.persister?.saveCheckpoint(rd.stableCheckpoint);
      if (rd.persist?.snapshot) {
        this.service.sm.restore(checkpointServiceState(rd.persist.snapshot.data));
        this.lastApplied = rd.persist.snapshot.meta.index;
        this.lastReply.clear();
        this.onRestore?.(this.lastApplied);
      }
      out.push(...rd.send);
      const view = this.replica.status().view;
      for (const batch of rd.batches) {
        const results: ExecutedRequest<R>[] = [];
        for (const r of batch.requests) {
          const value = this.service.sm.apply(r.op, batch.seq as Index);
          const result = this.service.encodeResult(value);
          const last = this.lastReply.get(r.client);
          if (last !== undefined && last.timestamp >= r.timestamp) continue; // executed before: the session answered, no new reply
          this.lastReply.set(r.client, { timestamp: r.timestamp, view, result });
          results.push({ seq: batch.seq, client: r.client, timestamp: r.timestamp, result, value });
          out.push(this.reply(r.client, r.timestamp, view, result, false));
        }
        this.lastApplied = batch.seq;
        this.onExecute?.(batch, results);
        if (batch.seq % this.replica.checkpointIntervalSeqs === 0) this.replica.compact(batch.seq as Index, this.service.sm.snapshot());
      }
      for (const r of rd.reads) out.push(this.reply(r.client, r.timestamp, view, this.service.encodeResult(this.service.query(r.op)), true));
      for (const { client, timestamp } of rd.replyAgain) {
        const last = this.lastReply.get(client);
        if (last !== undefined && last.timestamp === timestamp) out.push(this.reply(client, timestamp, last.view, last.result, false));
      }
      this.replica.advance(rd);
    }
    return out;
  }

  reply(client: Principal, timestamp: number, view: number, result: Uint8Array, readOnly: boolean): PbftReply {
    const id = this.replica.id;
    return {
      type: 'reply', from: id, to: client as NodeId, view, client, timestamp, replica: id, result, readOnly,
      mac: this.auth.mac(replyPayload(view, client, timestamp, id, readOnly, result), client),
    };
  }
}

export type { ClientRequest };
