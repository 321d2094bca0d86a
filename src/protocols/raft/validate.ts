/**
 * Raft's message schema: what a peer's decoded message must look like before a core steps it
 * (see src/core/validate.ts for why). Every field of every message type is checked for its type
 * and range; arrays are bounded; an append's entries must follow its prevLogIndex one by one and
 * carry no term above the message's (what every leader sends; anything else is not Raft).
 */
import {
  boundFrom, DEFAULT_COMMON_MESSAGE_BOUNDS, firstBadItem, isBool, isBoundedArray, isBytes, isName, logEntryProblem,
  snapshotProblem, validatorByType, natField as nat, boolField as bool, type CommonMessageBounds, type Fields, type MessageValidator,
} from '../../core/validate.js';
import { DEFAULT_RAFT_LIMITS, type RaftMessage } from './types.js';

export interface RaftMessageBounds extends CommonMessageBounds {
  /** Entries in one append: the sender's maxEntriesPerMessage, whatever this member's own is (within this). */
  readonly maxEntriesPerAppend: number;
}

/** Peers may be configured with up to this many entries per append regardless of this member's own limit. */
export const MIN_ACCEPTED_ENTRIES_PER_APPEND = 4096;

export const DEFAULT_RAFT_MESSAGE_BOUNDS: RaftMessageBounds = {
  ...DEFAULT_COMMON_MESSAGE_BOUNDS,
  maxEntriesPerAppend: boundFrom(DEFAULT_RAFT_LIMITS.maxEntriesPerMessage, MIN_ACCEPTED_ENTRIES_PER_APPEND),
};

/** The bounds for a core created with `options` (its maxEntriesPerMessage raises the entries bound). */
export function raftMessageBounds(options: Readonly<Record<string, unknown>> = {}): RaftMessageBounds {
  return { ...DEFAULT_RAFT_MESSAGE_BOUNDS, maxEntriesPerAppend: boundFrom(options['maxEntriesPerMessage'], DEFAULT_RAFT_MESSAGE_BOUNDS.maxEntriesPerAppend) };
}

/**
 * Fields of each message type besides from, to and term, by type: a known type has a checker.
 * Each field is read by its literal name (see natField: every frame a member receives is checked).
 */
const CHECKERS: Readonly<Record<RaftMessage['type'], (m: Fields, b: RaftMessageBounds) => string | null>> = {
  'vote-request': (m) => nat(m['lastLogIndex'], 'lastLogIndex') ?? nat(m['lastLogTerm'], 'lastLogTerm')
    ?? bool(m['preVote'], 'preVote') ?? bool(m['transfer'], 'transfer'),
  'vote-response': (m) => bool(m['granted'], 'granted') ?? bool(m['preVote'], 'preVote'),
  append: (m, b) => {
    const why = nat(m['prevLogIndex'], 'prevLogIndex') ?? nat(m['prevLogTerm'], 'prevLogTerm') ?? nat(m['commit'], 'commit');
    if (why !== null) return why;
    const entries = m['entries'];
    if (!isBoundedArray(entries, b.maxEntriesPerAppend)) return `entries is not an array of at most ${b.maxEntriesPerAppend}`;
    const first = (m['prevLogIndex'] as number) + 1;
    const term = m['term'] as number;
    return firstBadItem(entries, 'entries', (e, i) => {
      const bad = logEntryProblem(e);
      if (bad !== null) return bad;
      const entry = e as Fields;
      if (entry['index'] !== first + i) return `index ${String(entry['index'])} does not follow prevLogIndex (${first + i} expected)`;
      if ((entry['term'] as number) > term) return `term ${String(entry['term'])} is above the message's term ${term}`;
      return null;
    });
  },
  'append-response': (m) => bool(m['success'], 'success') ?? nat(m['matchIndex'], 'matchIndex') ?? nat(m['rejectedIndex'], 'rejectedIndex')
    ?? nat(m['conflictTerm'], 'conflictTerm') ?? nat(m['conflictIndex'], 'conflictIndex'),
  heartbeat: (m) => nat(m['commit'], 'commit') ?? nat(m['readSeq'], 'readSeq'),
  'heartbeat-response': (m) => nat(m['readSeq'], 'readSeq'),
  snapshot: (m, b) => {
    const why = nat(m['offset'], 'offset') ?? bool(m['done'], 'done');
    if (why !== null) return why;
    if (!isBytes(m['chunk'])) return 'chunk is not bytes';
    // The snapshot's metadata travels alone here (its data in chunks): check it with empty data.
    return snapshotProblem({ meta: m['meta'], data: new Uint8Array(0) }, b);
  },
  'snapshot-response': (m) => {
    const why = nat(m['snapshotIndex'], 'snapshotIndex') ?? nat(m['received'], 'received') ?? bool(m['done'], 'done');
    if (why !== null) return why;
    if (m['refused'] !== undefined && !isBool(m['refused'])) return 'refused is not a boolean';
    return m['gap'] === undefined || isBool(m['gap']) ? null : 'gap is not a boolean';
  },
  'timeout-now': () => null,
  'read-index': (m, b) => (isName(m['requestId'], b.maxRequestIdChars) ? null : 'requestId is not a bounded string'),
  'read-index-response': (m, b) => (isName(m['requestId'], b.maxRequestIdChars) ? nat(m['index'], 'index') : 'requestId is not a bounded string'),
};

/** A validator of Raft messages for a core created with `options`. */
export function raftMessageValidator(options: Readonly<Record<string, unknown>> = {}): MessageValidator<RaftMessage> {
  return validatorByType<RaftMessage, RaftMessageBounds>('raft', CHECKERS, raftMessageBounds(options), (m) => nat(m['term'], 'term'));
}

/** Check a Raft message with the default bounds. */
export const validateRaftMessage: MessageValidator<RaftMessage> = raftMessageValidator();
