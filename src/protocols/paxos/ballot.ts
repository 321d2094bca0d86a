/**
 * Ballots (Lamport's proposal numbers): a pair (counter, node), ordered lexicographically, so
 * two proposers never share one and every proposer can always pick a higher one.
 *
 * A ballot is carried as one number, `counter * MAX_REPLICAS + rank`, where `rank` is the
 * node's 1-based position among the sorted voters: numeric order is then exactly the
 * lexicographic order of (counter, node). 0 is "no ballot". Ballots are `Term`s, so drivers see
 * them where they see Raft's terms (status().term, LogEntry.term) and need not know the difference.
 */
import { assert } from '../../core/assert.js';
import type { NodeId, Term } from '../../core/ids.js';

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

/** A node's rank: its 1-based position among the sorted voters (equal on every replica). */
export function rankOf(voters: readonly NodeId[], id: NodeId): number {
  const sorted = [...voters].sort();
  const i = sorted.indexOf(id);
  assert(i >= 0, () => `${id} is not a voter`);
  return i + 1;
}

/** The node that owns ballot `b`, or null for NO_BALLOT. */
export function ballotOwner(voters: readonly NodeId[], b: Ballot): NodeId | null {
  if (b === NO_BALLOT) return null;
  return [...voters].sort()[ballotRank(b) - 1] ?? null;
}

export function describeBallot(b: Ballot): string {
  return b === NO_BALLOT ? '⊥' : `(${ballotCounter(b)},${ballotRank(b)})`;
}
