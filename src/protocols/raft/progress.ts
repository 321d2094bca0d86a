/**
 * The leader's view of one follower (etcd calls it Progress): what it has, what to send next,
 * and how many appends are in flight. Probe: one append at a time until we find where the
 * logs agree. Replicate: pipeline appends up to the in-flight window. Snapshot: sending an
 * InstallSnapshot, one chunk at a time.
 */
import type { Index } from '../../core/ids.js';
import type { SnapshotMeta } from '../../core/replica.js';
import type { FollowerProgress } from './types.js';

/**
 * A snapshot being sent to one follower: bytes sent, the most the follower acknowledged, what it
 * said it has in its latest answer (less after it restarted), the tick the transfer last
 * progressed at, and the gap the follower reports (the offset it lacks, and how many chunks
 * beyond it reported it).
 */
export interface SnapshotTransfer {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
  sent: number;
  acked: number;
  reported: number;
  progressAt: number;
  gapAt: number;
  gapReports: number;
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress implements FollowerProgress {
  match = 0 as Index;
  next: Index;
  state: ProgressState = 'probe';
  /** Last index of each append in flight, oldest first. */
  inflightLast: number[] = [];
  isLearner = false;
  /** Probe: an append was sent and not yet answered (reset by a heartbeat response). */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** The newest heartbeat round (readSeq) this follower acknowledged: the leader's lease rests on these. */
  roundAcked = 0;
  /**
   * Snapshot being sent: bytes sent so far, bytes the follower has, and the leader's tick when
   * it last heard of progress (chunks are resent from `acked` only when it stalls).
   */
  snapshot: SnapshotTransfer | null = null;

  constructor(next: Index) {
    this.next = next;
  }

  /** Appends in flight. */
  get inflight(): number {
    return this.inflightLast.length;
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.probeSent = false;
    this.inflightLast = [];
    this.snapshot = null;
    this.next = Math.max(this.next, this.match + 1) as Index;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.inflightLast = [];
    this.snapshot = null;
    this.next = (this.match + 1) as Index;
  }

  /** Acknowledge `index` as matched; returns false if it told us nothing new. */
  acknowledge(index: Index): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
    }
    if (this.next < index + 1) this.next = (index + 1) as Index;
    let drop = 0;
    while (drop < this.inflightLast.length && this.inflightLast[drop]! <= index) drop++;
    // Shifted off (nearly always one): splice would make an array of what it removes, per answer.
    for (let i = 0; i < drop; i++) this.inflightLast.shift();
    this.probeSent = false;
    return updated;
  }

  isPaused(maxInflight: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflightLast.length >= maxInflight;
      case 'snapshot':
        return true;
    }
  }
}
