/**
 * Quorum math. Kept tiny and separate so each protocol's safety argument can point at one
 * function: majorities for crash-fault protocols, joint majorities for Raft's C_old,new, and
 * Byzantine quorums for PBFT/HotStuff.
 */
import { assert } from './assert.js';
import type { Index, NodeId } from './ids.js';

/** Smallest number of voters that is a majority of `n` (n >= 1). */
export function majority(n: number): number {
  // The message is made only on failure: a leader counts a majority on every acknowledgement.
  assert(Number.isInteger(n) && n >= 1, () => `majority of ${n} voters`);
  return Math.floor(n / 2) + 1;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * Outcome of a vote among `voters` given the answers received so far
 * (true = granted, false = rejected, absent = not yet answered).
 */
export function voteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'won'; // an empty configuration imposes no constraint (joint halves)
  let granted = 0;
  let missing = 0;
  for (const v of voters) {
    const answer = votes.get(v);
    if (answer === true) granted++;
    else if (answer === undefined) missing++;
  }
  const need = majority(voters.size);
  if (granted >= need) return 'won';
  if (granted + missing >= need) return 'pending';
  return 'lost';
}

/** A joint vote wins only if both halves win, and loses as soon as either half loses. */
export function jointVoteResult(
  incoming: ReadonlySet<NodeId>,
  outgoing: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const a = voteResult(incoming, votes);
  const b = voteResult(outgoing, votes);
  if (a === 'lost' || b === 'lost') return 'lost';
  if (a === 'won' && b === 'won') return 'won';
  return 'pending';
}

/** Each voter's match index; a Map works, and so does a view over a leader's progress. */
export interface MatchIndexes {
  get(id: NodeId): Index | number | undefined;
}

/**
 * The highest index that a majority of `voters` has durably stored, given each voter's match
 * index (a voter missing from `match` counts as 0). Empty configuration → +Infinity so that a
 * joint configuration's min() is decided by the non-empty half.
 */
export function committedIndex(voters: ReadonlySet<NodeId>, match: MatchIndexes): number {
  if (voters.size === 0) return Number.POSITIVE_INFINITY;
  // Insertion-sorted, descending, into one reused array: a leader computes this on every
  // acknowledgement, and an array plus a sort with a comparator per call showed in profiles.
  const indexes = matchScratch;
  let n = 0;
  for (const v of voters) {
    const x = match.get(v) ?? 0;
    let i = n++;
    for (; i > 0 && indexes[i - 1]! < x; i--) indexes[i] = indexes[i - 1]!;
    indexes[i] = x;
  }
  const at = indexes[majority(voters.size) - 1];
  assert(at !== undefined, 'majority position exists');
  return at;
}

/** committedIndex's sorting space (it calls nothing that could reenter it while it is in use). */
const matchScratch: number[] = [];

export function jointCommittedIndex(
  incoming: ReadonlySet<NodeId>,
  outgoing: ReadonlySet<NodeId>,
  match: MatchIndexes,
): number {
  if (outgoing.size === 0) return committedIndex(incoming, match);
  return Math.min(committedIndex(incoming, match), committedIndex(outgoing, match));
}

/** Largest f such that n >= 3f + 1 (Byzantine faults tolerated by n replicas). */
export function byzantineFaults(n: number): number {
  assert(Number.isInteger(n) && n >= 1, `byzantine faults of ${n} replicas`);
  return Math.floor((n - 1) / 3);
}

/**
 * Byzantine quorum size: any two quorums intersect in at least f + 1 replicas, so in at least
 * one honest one. For n = 3f + 1 this is 2f + 1.
 */
export function byzantineQuorum(n: number): number {
  const f = byzantineFaults(n);
  return Math.ceil((n + f + 1) / 2);
}

/** Flexible Paxos: phase-1 and phase-2 quorums must intersect (|Q1| + |Q2| > n). */
export function quorumsIntersect(n: number, q1: number, q2: number): boolean {
  return q1 >= 1 && q2 >= 1 && q1 <= n && q2 <= n && q1 + q2 > n;
}
