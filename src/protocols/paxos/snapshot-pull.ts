/**
 * Catch-up without a leader: a candidate refused for being behind an acceptor's snapshot pulls
 * that snapshot from it.
 *
 * Why. An acceptor refuses a Prepare whose fromSlot is at or below its snapshot (the accepted
 * values there are gone: a Promise could only carry the whole snapshot, which no message bound
 * holds). The candidate then stands down, for "a replica that knows more should lead". That
 * holds while the one that knows more may lead; a learner may not. After a demotion the voters
 * left can all be behind the leave-joint slot, which only the demoted members (learners now, and
 * compacted past it) know is chosen: every candidate needs a quorum of the old half, the old half
 * refuses, and no one ever leads (the simulator's Multi-Paxos seed 530).
 *
 * How. The candidate asks the refusing acceptor for its snapshot, a window of bytes per request
 * (SnapshotPullRequest); the acceptor answers with the chunks of that window (SnapshotPiece),
 * keeping nothing: each request names the snapshot (index and digest) and the offset, and an
 * acceptor that compacted since answers from the start of its newer one. The candidate joins the
 * chunks in order, checks the digest, and installs the snapshot once its state machine decoded
 * it, as a leader's. A snapshot holds chosen values only, so whoever sends it, installing it is
 * safe (Multi-Paxos trusts its peers: crashes, not lies); no ballot, no leader is involved.
 * Installed, it ends the candidate's campaign (the next starts from it, an election timeout
 * later). An acceptor that follows a live leader serves no pull: the requester is cut off from
 * that leader, which brings it up once it is back.
 *
 * Bounds: one window (the requester's maxInflightSnapshotBytes, within the server's) per
 * request, chunks in order only (a chunk out of order is dropped: the next request asks again),
 * a request again every PULL_RETRY_TICKS without progress, and the pull given up after
 * MAX_SILENT_PULL_RETRIES of them (the next refusal starts another, maybe from another acceptor).
 */
import { concatBytes } from '../../core/bytes.js';
import type { NodeId } from '../../core/ids.js';
import type { Snapshot, SnapshotMeta } from '../../core/replica.js';
import { MAX_SNAPSHOT_BYTES } from './config.js';
import { snapshotDigest } from './digest.js';
import type { Ballot } from './ballot.js';
import type { SnapshotPiece, SnapshotPullRequest } from './types.js';

/** Ticks without progress before a pull's request goes again. */
export const PULL_RETRY_TICKS = 3;
/** Requests in a row that brought nothing before a pull is given up. */
export const MAX_SILENT_PULL_RETRIES = 10;

/** The requester's state: the snapshot being pulled from `source` and the bytes held in order. */
export class SnapshotPull {
  private meta: SnapshotMeta | null = null;
  private digest = '';
  private chunks: Uint8Array[] = [];
  private received = 0;
  private requestedThrough = 0;
  private quietTicks = 0;
  private silentRetries = 0;

  constructor(readonly source: NodeId, private readonly windowBytes: number) {}

  /** The index of the snapshot being pulled (0 before its first chunk). */
  get index(): number {
    return this.meta?.index ?? 0;
  }

  /** A request for the next window, from what is held in order. */
  request(from: NodeId, ballot: Ballot): SnapshotPullRequest {
    this.quietTicks = 0;
    this.requestedThrough = this.received + this.windowBytes;
    return { type: 'snapshot-pull', from, to: this.source, ballot, index: this.index, digest: this.digest, offset: this.received, bytes: this.windowBytes };
  }

  /** A tick: true when the request should go again (no progress for PULL_RETRY_TICKS); null when the pull is given up. */
  tick(): boolean | null {
    if (++this.quietTicks < PULL_RETRY_TICKS) return false;
    return ++this.silentRetries > MAX_SILENT_PULL_RETRIES ? null : true;
  }

  /**
   * Take a piece. Returns the whole snapshot once its last chunk is in and its digest matches,
   * 'more' when the window asked for is in (the next request goes now), 'restart' when the
   * assembled bytes did not match their digest (held bytes dropped), null otherwise.
   */
  take(m: SnapshotPiece): Snapshot | 'more' | 'restart' | null {
    if (m.from !== this.source) return null;
    const same = this.meta !== null && m.meta.index === this.meta.index && m.meta.term === this.meta.term && m.digest === this.digest;
    if (!same) {
      // The source compacted since (or this is the first chunk): a newer snapshot from its start.
      if (m.offset !== 0 || (this.meta !== null && m.meta.index <= this.meta.index)) return null;
      this.meta = m.meta;
      this.digest = m.digest;
      this.chunks = [];
      this.received = 0;
    }
    if (m.offset !== this.received || this.received + m.chunk.byteLength > MAX_SNAPSHOT_BYTES) return null;
    this.chunks.push(m.chunk);
    this.received += m.chunk.byteLength;
    this.silentRetries = 0;
    // Progress: the window asked for is still coming (a slow link); asking for it again now would
    // have it sent twice, and on a link already too slow for it, again and again.
    this.quietTicks = 0;
    if (m.done) {
      const data = concatBytes(this.chunks, this.received);
      const meta = this.meta!;
      this.meta = null;
      this.chunks = [];
      this.received = 0;
      return snapshotDigest(data) === m.digest ? { meta, data } : 'restart';
    }
    return this.received >= this.requestedThrough ? 'more' : null;
  }
}

/**
 * The chunks the acceptor holding `snapshot` (whose data has digest `digest`) answers `m` with:
 * from `m.offset` when `m` names this snapshot, else from its start; at most `m.bytes`, within
 * `maxWindowBytes`, in chunks of `chunkBytes`.
 */
export function servePull(m: SnapshotPullRequest, snapshot: Snapshot, digest: string, ballot: Ballot, chunkBytes: number, maxWindowBytes: number): SnapshotPiece[] {
  const same = m.index === snapshot.meta.index && m.digest === digest;
  const size = snapshot.data.byteLength;
  const start = same ? Math.min(m.offset, size) : 0;
  const end = Math.min(size, start + Math.max(1, Math.min(m.bytes, maxWindowBytes)));
  const pieces: SnapshotPiece[] = [];
  for (let at = start; ; ) {
    const next = Math.min(at + chunkBytes, size);
    pieces.push({ type: 'snapshot-piece', from: m.to, to: m.from, ballot, meta: snapshot.meta, digest, offset: at, chunk: snapshot.data.subarray(at, next), done: next === size });
    at = next;
    if (at >= end) return pieces;
  }
}

