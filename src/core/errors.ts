/**
 * Typed errors that can reach a user. Each carries a stable `code` (for programs) and a
 * message that says what to do (for people).
 */
import type { NodeId } from './ids.js';

export type ErrorCode =
  | 'NOT_LEADER'
  | 'NO_LEADER'
  | 'PROPOSAL_DROPPED'
  | 'LEADER_CHANGED'
  | 'TOO_MANY_REQUESTS'
  | 'REQUEST_TOO_LARGE'
  | 'CONFIG_CHANGE_IN_PROGRESS'
  | 'INVALID_CONFIG_CHANGE'
  | 'LEADERSHIP_TRANSFER_IN_PROGRESS'
  | 'COMPACTED'
  | 'UNAVAILABLE'
  | 'STOPPED'
  | 'TIMEOUT'
  | 'INVALID_ARGUMENT'
  | 'CORRUPT'
  | 'MALFORMED_FRAME'
  | 'FRAME_TOO_LARGE'
  | 'UNKNOWN_PEER'
  | 'WRONG_CLUSTER'
  | 'UNAUTHENTICATED'
  | 'BAD_KEYS';

export class QuorateError extends Error {
  override readonly name: string = 'QuorateError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `make()`'s error, made without capturing a stack trace. For errors whose stack tells nothing:
 * routine refusals a caller acts on by their code (NotLeader: retry at the hint), and errors
 * rebuilt from a peer's answer (their stack would show only the frame handling that answers).
 * Capturing a stack costs several microseconds, more than a whole simulated message delivery,
 * and clients meet these often (at every election, and at every member that is not the leader).
 * The code, message, name and class are as `make()` gives them; `stack` holds only the first line.
 */
export function withoutStack<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 0;
  } catch {
    // Read-only (node --frozen-intrinsics, a hardened realm): the error with its stack, not a
    // TypeError in its place (a redirect must stay a NotLeader).
    return make();
  }
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** This replica is not the leader; retry at `leaderHint` if one is known. */
export class NotLeader extends QuorateError {
  override readonly name = 'NotLeader';
  constructor(readonly leaderHint: NodeId | null) {
    super('NOT_LEADER', notLeaderMessage(leaderHint));
  }
}

/** NotLeader's message (also what a leader answers a forwarded proposal with when it does not lead). */
export function notLeaderMessage(leaderHint: NodeId | null): string {
  return leaderHint === null
    ? 'not the leader and no leader is known; retry after an election'
    : `not the leader; retry at ${leaderHint}`;
}

/** The request was refused because a named limit was reached; back off and retry. */
export class TooManyRequests extends QuorateError {
  override readonly name = 'TooManyRequests';
  constructor(readonly limitName: string, readonly limit: number) {
    super('TOO_MANY_REQUESTS', `too many requests: limit ${limitName}=${limit} reached; back off and retry`);
  }
}

/** Data at the requested position was discarded by compaction. */
export class Compacted extends QuorateError {
  override readonly name = 'Compacted';
  constructor(readonly compactedThrough: number, what = 'entry') {
    super('COMPACTED', `${what} has been compacted (through ${compactedThrough}); read from a snapshot or a later position`);
  }
}

export class ProposalDropped extends QuorateError {
  override readonly name = 'ProposalDropped';
  constructor(reason: string) {
    super('PROPOSAL_DROPPED', `proposal dropped: ${reason}; retry`);
  }
}

/**
 * The leadership a request waited on ended (its leader was deposed, or a new term began) before
 * the request was answered: a proposal may still commit or may be lost, a read was not served.
 * Retry, at `leaderHint` if one is known; a retried proposal with the same session takes effect
 * at most once. etcd answers this case with "etcdserver: leader changed".
 */
export class LeaderChanged extends QuorateError {
  override readonly name = 'LeaderChanged';
  constructor(readonly leaderHint: NodeId | null, what: 'proposal' | 'read') {
    super(
      'LEADER_CHANGED',
      what === 'proposal'
        ? 'leader changed before the proposal was answered; it may still commit: retry with the same session'
        : 'leader changed before the read was confirmed; retry',
    );
  }
}
