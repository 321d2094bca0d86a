/**
 * The message schemas of Multi-Paxos and of single-decree Paxos: what a peer's decoded message
 * must look like before a replica acts on it (see src/core/validate.ts for why). Ballots, slots
 * and read rounds are safe non-negative integers; entries, slots and promises are bounded.
 */
import {
  boundFrom, DEFAULT_COMMON_MESSAGE_BOUNDS, firstBadItem, isBoundedArray, isBytes, isName, isNat, isObject, logEntryProblem,
  natField as nat, snapshotProblem, validatorByType, type CommonMessageBounds, type Fields, type MessageValidator,
} from '../../core/validate.js';
import { DEFAULT_PAXOS_LIMITS } from './config.js';
import { isMembership } from './membership.js';
import type { DecreeMessage } from './single-decree.js';
import type { PaxosMessage } from './types.js';

export interface PaxosMessageBounds extends CommonMessageBounds {
  /** Slots in one Accept (and so in one Accepted): the sender's maxEntriesPerMessage, within this. */
  readonly maxEntriesPerAccept: number;
  /**
   * Slots one Promise reports: every slot the acceptor accepted from the proposer's fromSlot on,
   * which no protocol limit bounds below the log itself (compaction keeps it short). This bound is
   * above what a frame of the transport's default size can hold.
   */
  readonly maxEntriesPerPromise: number;
}

/** Peers may be configured with up to this many slots per Accept regardless of this member's own limit. */
export const MIN_ACCEPTED_ENTRIES_PER_ACCEPT = 4096;
/** See PaxosMessageBounds.maxEntriesPerPromise. */
export const MAX_ENTRIES_PER_PROMISE = 262_144;

export const DEFAULT_PAXOS_MESSAGE_BOUNDS: PaxosMessageBounds = {
  ...DEFAULT_COMMON_MESSAGE_BOUNDS,
  maxEntriesPerAccept: boundFrom(DEFAULT_PAXOS_LIMITS.maxEntriesPerMessage, MIN_ACCEPTED_ENTRIES_PER_ACCEPT),
  maxEntriesPerPromise: MAX_ENTRIES_PER_PROMISE,
};

/** The bounds for a replica created with `options` (its maxEntriesPerMessage raises the Accept bound). */
export function paxosMessageBounds(options: Readonly<Record<string, unknown>> = {}): PaxosMessageBounds {
  return { ...DEFAULT_PAXOS_MESSAGE_BOUNDS, maxEntriesPerAccept: boundFrom(options['maxEntriesPerMessage'], DEFAULT_PAXOS_MESSAGE_BOUNDS.maxEntriesPerAccept) };
}

function entriesProblem(v: unknown, max: number, what: string): string | null {
  if (!isBoundedArray(v, max)) return `${what} is not an array of at most ${max} entries`;
  return firstBadItem(v, what, logEntryProblem);
}

const requestIdProblem = (m: Fields, b: CommonMessageBounds): string | null =>
  (isName(m['requestId'], b.maxRequestIdChars) ? null : 'requestId is not a bounded string');

/** A snapshot chunk's fields (InstallSnapshot, SnapshotPiece): its offset, bytes, and the snapshot's metadata. */
function chunkProblem(m: Fields, b: PaxosMessageBounds): string | null {
  return nat(m['offset'], 'offset')
    ?? (typeof m['done'] === 'boolean' ? null : 'done is not a boolean')
    ?? (isBytes(m['chunk']) ? null : 'chunk is not bytes')
    // The snapshot's metadata travels alone here (its data in chunks): check it with empty data.
    ?? snapshotProblem({ meta: m['meta'], data: new Uint8Array(0) }, b)
    // Its configuration (ranks included) becomes the receiver's once installed.
    ?? (isMembership((m['meta'] as Fields)['membership']) ? null : 'meta.membership is not a configuration');
}

/** Fields of each Multi-Paxos message type besides from, to and ballot, each read by its literal name (see natField). */
const CHECKERS: Readonly<Record<PaxosMessage['type'], (m: Fields, b: PaxosMessageBounds) => string | null>> = {
  'pre-prepare': () => null,
  'pre-promise': (m) => nat(m['promised'], 'promised') ?? (typeof m['granted'] === 'boolean' ? null : 'granted is not a boolean'),
  prepare: (m) => nat(m['fromSlot'], 'fromSlot') ?? (m['transfer'] === undefined || typeof m['transfer'] === 'boolean' ? null : 'transfer is not a boolean'),
  'timeout-now': (m) => (m['through'] === undefined ? null : nat(m['through'], 'through')),
  promise: (m, b) => nat(m['chosenThrough'], 'chosenThrough') ?? nat(m['fromSlot'], 'fromSlot') ?? nat(m['throughSlot'], 'throughSlot')
    ?? (typeof m['more'] === 'boolean' ? null : 'more is not a boolean')
    ?? entriesProblem(m['accepted'], b.maxEntriesPerPromise, 'accepted')
    ?? (m['snapshot'] === null ? null : snapshotProblem(m['snapshot'], b)),
  nack: (m, b) => nat(m['promised'], 'promised') ?? nat(m['compactedThrough'], 'compactedThrough')
    ?? (m['leader'] === undefined || isName(m['leader'], b.maxNodeIdChars) ? null : 'leader is not a node id'),
  accept: (m, b) => nat(m['commit'], 'commit') ?? nat(m['readRound'], 'readRound') ?? entriesProblem(m['entries'], b.maxEntriesPerAccept, 'entries'),
  accepted: (m, b) => {
    const why = nat(m['match'], 'match') ?? nat(m['readRound'], 'readRound');
    if (why !== null) return why;
    const slots = m['slots'];
    if (!isBoundedArray(slots, b.maxEntriesPerAccept)) return `slots is not an array of at most ${b.maxEntriesPerAccept}`;
    return firstBadItem(slots, 'slots', (s) => (isNat(s) && s >= 1 ? null : 'not a positive integer'));
  },
  'install-snapshot': (m, b) => nat(m['commit'], 'commit')
    ?? (m['digest'] === undefined || isName(m['digest'], b.maxAuthenticatorChars) ? null : 'digest is not a bounded string')
    ?? chunkProblem(m, b),
  'snapshot-ack': (m) => nat(m['index'], 'index') ?? nat(m['received'], 'received')
    ?? (typeof m['done'] === 'boolean' ? null : 'done is not a boolean')
    ?? (m['gap'] === undefined || typeof m['gap'] === 'boolean' ? null : 'gap is not a boolean')
    ?? (m['refused'] === undefined || typeof m['refused'] === 'boolean' ? null : 'refused is not a boolean'),
  'snapshot-pull': (m, b) => nat(m['index'], 'index') ?? nat(m['offset'], 'offset') ?? nat(m['bytes'], 'bytes')
    ?? (m['digest'] === '' || isName(m['digest'], b.maxAuthenticatorChars) ? null : 'digest is not a bounded string'),
  'snapshot-piece': (m, b) => (isName(m['digest'], b.maxAuthenticatorChars) ? null : 'digest is not a bounded string') ?? chunkProblem(m, b),
  'read-index': (m, b) => requestIdProblem(m, b),
  'read-index-response': (m, b) => requestIdProblem(m, b) ?? nat(m['index'], 'index'),
};

/** A validator of Multi-Paxos messages for a replica created with `options`. */
export function paxosMessageValidator(options: Readonly<Record<string, unknown>> = {}): MessageValidator<PaxosMessage> {
  return validatorByType<PaxosMessage, PaxosMessageBounds>('paxos', CHECKERS, paxosMessageBounds(options), (m) => nat(m['ballot'], 'ballot'));
}

/** Check a Multi-Paxos message with the default bounds. */
export const validatePaxosMessage: MessageValidator<PaxosMessage> = paxosMessageValidator();

/**
 * A validator of single-decree Paxos messages whose values `isValue` accepts (the value type is
 * the application's: it says what a well-formed value is).
 */
export function decreeMessageValidator<V>(isValue: (v: unknown) => v is V, b: CommonMessageBounds = DEFAULT_COMMON_MESSAGE_BOUNDS): MessageValidator<DecreeMessage<V>> {
  const value = (m: Fields): string | null => (isValue(m['value']) ? null : 'value is not a value of this decree');
  const checkers: Readonly<Record<DecreeMessage<V>['type'], (m: Fields) => string | null>> = {
    prepare: () => null,
    promise: (m) => {
      const a = m['accepted'];
      if (a === null) return null;
      if (!isObject(a)) return 'accepted is neither null nor a proposal';
      if (!isNat(a['ballot'])) return 'accepted ballot is not a non-negative integer';
      return isValue(a['value']) ? null : 'accepted value is not a value of this decree';
    },
    nack: (m) => nat(m['promised'], 'promised'),
    accept: value,
    accepted: value,
  };
  return validatorByType<DecreeMessage<V>, CommonMessageBounds>('decree', checkers, b, (m) => nat(m['ballot'], 'ballot'));
}
