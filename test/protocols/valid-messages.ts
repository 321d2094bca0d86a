/** A well-formed message of every type of every protocol, hand-written (the validators' tests start from them). */
export const bytes = (n = 3) => new Uint8Array(n).fill(1);
const membership = { voters: ['n1', 'n2', 'n3'], outgoingVoters: [], learners: [] };
export const entry = (index: number, term = 1) => ({ index, term, kind: 'command', data: bytes() });

/** A well-formed message of every type, by protocol (each is first checked to pass). */
export const VALID: Record<string, Record<string, Record<string, unknown>>> = {
  raft: {
    'vote-request': { type: 'vote-request', from: 'n1', to: 'n2', term: 3, lastLogIndex: 4, lastLogTerm: 2, preVote: false, transfer: false },
    'vote-response': { type: 'vote-response', from: 'n2', to: 'n1', term: 3, granted: true, preVote: false },
    append: { type: 'append', from: 'n1', to: 'n2', term: 3, prevLogIndex: 4, prevLogTerm: 2, entries: [entry(5, 2), entry(6, 3)], commit: 4 },
    'append-response': { type: 'append-response', from: 'n2', to: 'n1', term: 3, success: true, matchIndex: 6, rejectedIndex: 0, conflictTerm: 0, conflictIndex: 0 },
    heartbeat: { type: 'heartbeat', from: 'n1', to: 'n2', term: 3, commit: 4, readSeq: 0 },
    'heartbeat-response': { type: 'heartbeat-response', from: 'n2', to: 'n1', term: 3, readSeq: 0 },
    snapshot: { type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta: { index: 9, term: 3, membership }, offset: 0, chunk: bytes(), done: true },
    'snapshot-response': { type: 'snapshot-response', from: 'n2', to: 'n1', term: 3, snapshotIndex: 9, received: 3, done: true, gap: false },
    'timeout-now': { type: 'timeout-now', from: 'n1', to: 'n2', term: 3 },
    'read-index': { type: 'read-index', from: 'n2', to: 'n1', term: 3, requestId: 'n2/ab/1' },
    'read-index-response': { type: 'read-index-response', from: 'n1', to: 'n2', term: 3, requestId: 'n2/ab/1', index: 7 },
  },
  multipaxos: {
    prepare: { type: 'prepare', from: 'n1', to: 'n2', ballot: 1025, fromSlot: 1 },
    promise: { type: 'promise', from: 'n2', to: 'n1', ballot: 1025, fromSlot: 1, throughSlot: 1, more: false, accepted: [{ ...entry(1), acceptedBallot: 1025 }], chosenThrough: 0, snapshot: null },
    nack: { type: 'nack', from: 'n2', to: 'n1', ballot: 1025, promised: 2049, compactedThrough: 0 },
    'pre-prepare': { type: 'pre-prepare', from: 'n1', to: 'n2', ballot: 2049 },
    'pre-promise': { type: 'pre-promise', from: 'n2', to: 'n1', ballot: 2049, granted: true, promised: 1025 },
    accept: { type: 'accept', from: 'n1', to: 'n2', ballot: 1025, entries: [entry(2)], commit: 1, readRound: 0 },
    accepted: { type: 'accepted', from: 'n2', to: 'n1', ballot: 1025, slots: [2], match: 2, readRound: 0 },
    'install-snapshot': { type: 'install-snapshot', from: 'n1', to: 'n2', ballot: 1025, meta: { index: 5, term: 1025, membership }, offset: 0, chunk: bytes(), done: true, commit: 5, digest: '0123456789abcdef' },
    'snapshot-ack': { type: 'snapshot-ack', from: 'n2', to: 'n1', ballot: 1025, index: 5, received: 3, done: false },
    'snapshot-pull': { type: 'snapshot-pull', from: 'n1', to: 'n2', ballot: 1025, index: 0, digest: '', offset: 0, bytes: 4096 },
    'snapshot-piece': { type: 'snapshot-piece', from: 'n2', to: 'n1', ballot: 2049, meta: { index: 5, term: 1025, membership }, offset: 0, chunk: bytes(), done: true, digest: '0123456789abcdef' },
    'read-index': { type: 'read-index', from: 'n2', to: 'n1', ballot: 1025, requestId: 'r1' },
    'read-index-response': { type: 'read-index-response', from: 'n1', to: 'n2', ballot: 1025, requestId: 'r1', index: 3 },
    'timeout-now': { type: 'timeout-now', from: 'n1', to: 'n2', ballot: 1025 },
  },
  vr: {
    prepare: { type: 'prepare', from: 'n1', to: 'n2', view: 3, entries: [entry(5, 2), entry(6, 3)], commit: 4 },
    'prepare-ok': { type: 'prepare-ok', from: 'n2', to: 'n1', view: 3, opNumber: 6 },
    commit: { type: 'commit', from: 'n1', to: 'n2', view: 3, commit: 6, opNumber: 6 },
    'start-view-change': { type: 'start-view-change', from: 'n2', to: 'n3', view: 4 },
    'do-view-change': { type: 'do-view-change', from: 'n2', to: 'n2', view: 4, lastNormalView: 3, opNumber: 6, commit: 4, entries: [entry(5, 2), entry(6, 3)] },
    'start-view': { type: 'start-view', from: 'n2', to: 'n3', view: 4, opNumber: 6, commit: 4, fromOp: 5, entries: [entry(5, 2), entry(6, 3)] },
    'get-state': { type: 'get-state', from: 'n3', to: 'n2', view: 4, opNumber: 4 },
    'new-state': { type: 'new-state', from: 'n2', to: 'n3', view: 4, opNumber: 6, commit: 6, entries: [entry(5, 2)] },
    'new-state-snapshot': { type: 'new-state-snapshot', from: 'n2', to: 'n3', view: 4, opNumber: 6, commit: 6, snapshot: { meta: { index: 5, term: 2, membership }, data: bytes() } },
    recovery: { type: 'recovery', from: 'n3', to: 'n1', view: 0, nonce: 77 },
    'recovery-response': { type: 'recovery-response', from: 'n1', to: 'n3', view: 4, nonce: 77, primary: true, opNumber: 6, commit: 6 },
    'read-index': { type: 'read-index', from: 'n3', to: 'n2', view: 4, requestId: 'n3/ab/1' },
    'read-index-response': { type: 'read-index-response', from: 'n2', to: 'n3', view: 4, requestId: 'n3/ab/1', index: 7 },
  },
};
export const request = { client: 'n1#0', timestamp: 5, op: bytes(), readOnly: false, signature: 'sig' };
export const prePrepare = { view: 0, seq: 1, digest: 'd', batch: [request], primary: 'n1', signature: 's' };
export const prepare = { view: 0, seq: 1, digest: 'd', replica: 'n2', signature: 's' };
export const checkpoint = { seq: 16, stateDigest: 'sd', replica: 'n2', signature: 's' };
export const viewChange = { newView: 1, stableSeq: 16, stableDigest: 'sd', checkpointProof: [checkpoint], prepared: [{ prePrepare, prepares: [prepare] }], replica: 'n2', signature: 's' };
VALID['pbft'] = {
  request: { type: 'request', from: 'n1#0', to: 'n1', request },
  'pre-prepare': { type: 'pre-prepare', from: 'n1', to: 'n2', prePrepare, retransmitted: true },
  prepare: { type: 'prepare', from: 'n2', to: 'n3', prepare },
  commit: { type: 'commit', from: 'n2', to: 'n3', view: 0, seq: 1, digest: 'd', replica: 'n2', macs: { n1: 'm', n3: 'm' } },
  decided: { type: 'decided', from: 'n2', to: 'n3', view: 0, seq: 1, digest: 'd', replica: 'n2', macs: { n3: 'm' } },
  checkpoint: { type: 'checkpoint', from: 'n2', to: 'n3', checkpoint },
  'view-change': { type: 'view-change', from: 'n2', to: 'n3', viewChange },
  'new-view': { type: 'new-view', from: 'n2', to: 'n3', newView: { view: 1, viewChanges: [viewChange], prePrepares: [prePrepare], primary: 'n2', signature: 's' } },
  status: { type: 'status', from: 'n2', to: 'n3', view: 0, lastExecuted: 3, replica: 'n2', macs: { n3: 'm' } },
  'fetch-state': { type: 'fetch-state', from: 'n2', to: 'n3', seq: 16, part: 2, replica: 'n2', macs: { n3: 'm' } },
  'fetch-batch': { type: 'fetch-batch', from: 'n2', to: 'n3', seq: 3, digest: 'd', replica: 'n2', macs: { n3: 'm' } },
  batch: { type: 'batch', from: 'n3', to: 'n2', seq: 3, digest: 'd', batch: [request] },
  'state-meta': { type: 'state-meta', from: 'n3', to: 'n2', seq: 16, stateDigest: 'sd', proof: [checkpoint], meta: { totalBytes: 10, partBytes: 4, partDigests: ['a', 'b', 'c'] } },
  'state-part': { type: 'state-part', from: 'n3', to: 'n2', seq: 16, stateDigest: 'sd', part: 2, data: bytes() },
  reply: { type: 'reply', from: 'n2', to: 'n1#0', view: 0, client: 'n1#0', timestamp: 5, replica: 'n2', result: bytes(), readOnly: false, mac: 'm' },
};

