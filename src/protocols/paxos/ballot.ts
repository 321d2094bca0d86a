/**
 * Ballots (Lamport's proposal numbers): a pair (counter, node), ordered lexicographically, so
 * two proposers never share one and every proposer can always pick a higher one.
 *
 * A ballot is carried as one number, `counter * MAX_REPLICAS + rank`, where `rank` is the
 * node's ballot rank, fixed while the cluster lives and never given to another member (see
 * membership.ts; a cluster created before ranks were kept ranks its first voters by sorted
 * position): numeric order is then exactly the lexicographic order of (counter, node). 0 is "no ballot". Ballots are `Term`s, so drivers see
 * them where they see Raft's terms (status().term, LogEntry.term) and need not know the difference.
 */
import { assert } from '../../core/assert.js';
import type { Term } from '../../core/ids.js';

export type Ballot = Term;

/** Largest cluster a ballot can name (ranks 1..MAX_REPLICAS-1). */
export const MAX_REPLICAS = 1024;
export const NO_BALLOT = 0 as Ballot;

export function makeBallot(counter: number, rank: number): Ballot {
  assert(Number.isInteger(counter) && counter >= 1, () => `ballot counter ${counter} must be a positive integer`);
  assert(Number.isInteger(rank) && rank >= 1 && rank < MAX_REPLICAS, () => `ballot rank ${rank} out of range`);
  const b = counter * MAX_REPLICAS + rank;
  assert(Number.isSafeInteger(b), 'ballot overflow');
  return b as Ballot;
}

export function ballotCounter(b: Ballot): number {
  return Math.floor(b / MAX_REPLICAS);
}

export function ballotRank(b: Ballot): number {
  return b % MAX_REPLICAS;
}

/** The smallest ballot owned by `rank` that is above `above`. */
export function nextBallot(above: Ballot, rank: number): Ballot {
  return makeBallot(ballotCounter(above) + 1, rank);
}

export function describeBallot(b: Ballot): string {
  return b === NO_BALLOT ? '⊥' : `(${ballotCounter(b)},${ballotRank(b)})`;
}
