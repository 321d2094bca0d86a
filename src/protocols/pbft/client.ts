/**
 * A PBFT client (Castro & Liskov §4.1): it sends a signed request to the primary it believes in,
 * and on a timeout to every replica; it accepts a result only when f + 1 replicas (at least one
 * of them honest) sent matching replies, or 2f + 1 for a read-only request executed without
 * ordering. If a read-only request gets no 2f + 1 matching replies it is retried as an ordinary,
 * ordered one. Pure: the caller moves messages and runs the timer.
 */
import { principalMember, type Authenticator, type Principal } from '../../core/authenticator.js';
import { byzantineFaults, byzantineQuorum } from '../../core/quorum.js';
import type { QuorumClient } from '../../core/protocol.js';
import type { NodeId } from '../../core/ids.js';
import { QuorateError } from '../../core/errors.js';
import { replyPayload, signRequest, type ClientRequest, type PbftMessage, type PbftReply } from './index.js';
import { DEFAULT_MAX_REQUEST_BYTES } from './types.js';
import { sameBytes } from '../../core/bytes.js';

export interface Accepted {
  readonly timestamp: number;
  readonly result: Uint8Array;
  readonly readOnly: boolean;
}

export class BftClient implements QuorumClient<PbftMessage> {
  private readonly f: number;
  private view = 0;
  private timestamp = 0;
  private current: { request: ClientRequest; op: Uint8Array } | null = null;
  /** replica → reply for the current request. */
  private readonly replies = new Map<NodeId, PbftReply>();
  invalidReplies = 0;

  /** Matching replies a read-only result needs: the replicas' quorum (2f + 1 at N = 3f + 1, more otherwise). */
  private readonly readQuorum: number;

  constructor(
    private readonly auth: Authenticator,
    private readonly replicas: readonly NodeId[],
    firstTimestamp = 0,
    private readonly mutant?: string,
    /** The replicas' limit (PbftOptions.maxRequestBytes): they drop a larger request. */
    private readonly maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES,
  ) {
    this.f = byzantineFaults(replicas.length);
    this.timestamp = firstTimestamp;
    // A read-only request is answered without ordering, so its replies must come from a quorum
    // that intersects every write's quorum in an honest replica: the replicas' own quorum size.
    this.readQuorum = mutant === 'small-read-quorum' ? 2 * this.f + 1 : byzantineQuorum(replicas.length);
  }

  get id(): Principal {
    return this.auth.self;
  }

  /** The timestamp the next begin() will use. */
  get nextTimestamp(): number {
    return this.timestamp + 1;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /** Start an operation; returns the messages to send. */
  begin(op: Uint8Array, readOnly: boolean): PbftMessage[] {
    // Replicas drop a larger one: refuse it here, where the caller can be told (etcd's error).
    if (op.byteLength > this.maxRequestBytes) {
      throw new QuorateError('REQUEST_TOO_LARGE', `request of ${op.byteLength} bytes exceeds PBFT's maxRequestBytes=${this.maxRequestBytes}`);
    }
    this.timestamp++;
    const request = signRequest(this.auth, { timestamp: this.timestamp, op, readOnly });
    this.current = { request, op };
    this.replies.clear();
    if (readOnly) return this.toAll(request);
    const primary = this.replicas[this.view % this.replicas.length]!;
    // A member's client ("m1#k") hands the request to its own replica too, which relays it to the
    // primary of the view that replica is in (Castro: a backup relays a client's request and
    // watches the primary). This client learns views from its own accepted replies only: one idle
    // since an earlier view would send to that view's primary (a liar, maybe) alone, and the
    // request would reach the others only at its retry (a second in serve), by which time, on a
    // slow cluster, the member's caller has given up.
    const own = principalMember(this.auth.self) as NodeId;
    if (own === primary || !this.replicas.includes(own) || this.mutant === 'member-client-skips-own-replica') return [this.message(primary, request)];
    return [this.message(primary, request), this.message(own, request)];
  }

  /** The timer fired without an accepted result: broadcast (a read-only request becomes an ordered one). */
  retry(): PbftMessage[] {
    const c = this.current;
    if (c === null) return [];
    if (c.request.readOnly) {
      this.timestamp++;
      this.current = { request: signRequest(this.auth, { timestamp: this.timestamp, op: c.op, readOnly: false }), op: c.op };
      this.replies.clear();
    }
    return this.toAll(this.current!.request);
  }

  /** A reply arrived; returns the accepted result once enough replicas agree. */
  onReply(msg: PbftMessage): Accepted | null {
    if (msg.type !== 'reply') return null;
    const r: PbftReply = msg;
    const c = this.current;
    if (c === null || r.client !== this.auth.self || !this.replicas.includes(r.replica)) return null;
    if (!this.auth.verifyMac(replyPayload(r.view, r.client, r.timestamp, r.replica, r.readOnly, r.result), r.replica, r.mac)) {
      this.invalidReplies++;
      return null;
    }
    if (r.timestamp !== c.request.timestamp || r.readOnly !== c.request.readOnly) return null;
    this.replies.set(r.replica, r);
    const need = c.request.readOnly ? this.readQuorum : this.f + 1;
    let matching = 0;
    let highestView = 0;
    for (const x of this.replies.values()) {
      if (sameBytes(x.result, r.result)) {
        matching++;
        highestView = Math.max(highestView, x.view);
      }
    }
    if (matching < need) return null;
    this.view = Math.max(this.view, highestView);
    this.current = null;
    this.replies.clear();
    return { timestamp: r.timestamp, result: r.result, readOnly: r.readOnly };
  }

  /** Read-only replies that can no longer reach 2f + 1 matching: give up on them early. */
  readOnlyHopeless(): boolean {
    const c = this.current;
    if (c === null || !c.request.readOnly) return false;
    let best = 0;
    for (const x of this.replies.values()) {
      let n = 0;
      for (const y of this.replies.values()) if (sameBytes(x.result, y.result)) n++;
      best = Math.max(best, n);
    }
    return best + (this.replicas.length - this.replies.size) < this.readQuorum;
  }

  private toAll(request: ClientRequest): PbftMessage[] {
    return this.replicas.map((r) => this.message(r, request));
  }

  private message(to: NodeId, request: ClientRequest): PbftMessage {
    return { type: 'request', from: this.auth.self as NodeId, to, request };
  }
}
