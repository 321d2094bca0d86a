/**
 * PBFT's message schema: what a peer's (or a client's) decoded message must look like before a
 * replica authenticates and acts on it (see src/core/validate.ts for why). The schema is only
 * the shape: views, sequence numbers and timestamps are safe non-negative integers, digests,
 * MACs and signatures bounded strings, operations and results bytes, and every nested request,
 * certificate, VIEW-CHANGE and NEW-VIEW is shaped right and bounded. Whether a signature
 * verifies, or a certificate proves what it claims, stays the replica's to judge (and count).
 */
import {
  boolFields, boundFrom, DEFAULT_COMMON_MESSAGE_BOUNDS, firstBadItem, isBoundedArray, isBytes, isName, isNat, isObject, isText,
  natFields, validatorByType, type CommonMessageBounds, type Fields, type MessageValidator,
} from '../../core/validate.js';
import { DEFAULT_CHECKPOINT_INTERVAL_SEQS, DEFAULT_MAX_BATCH_REQUESTS, MAX_STATE_PART_BYTES, MAX_STATE_PARTS, type PbftMessage } from './types.js';

export interface PbftMessageBounds extends CommonMessageBounds {
  /** Requests in one pre-prepare's batch: the primary's maxBatchRequests, within this. */
  readonly maxBatchRequests: number;
  /** Prepared certificates in a VIEW-CHANGE and pre-prepares in a NEW-VIEW: one per sequence number of the log window L. */
  readonly maxWindowSeqs: number;
}

/** Primaries may batch up to this many requests regardless of this replica's own limit. */
export const MIN_ACCEPTED_BATCH_REQUESTS = 1024;
/** Replicas may run a log window of up to this many sequence numbers regardless of this replica's own. */
export const MIN_ACCEPTED_WINDOW_SEQS = 4096;

export const DEFAULT_PBFT_MESSAGE_BOUNDS: PbftMessageBounds = {
  ...DEFAULT_COMMON_MESSAGE_BOUNDS,
  maxBatchRequests: boundFrom(DEFAULT_MAX_BATCH_REQUESTS, MIN_ACCEPTED_BATCH_REQUESTS),
  maxWindowSeqs: boundFrom(2 * DEFAULT_CHECKPOINT_INTERVAL_SEQS, MIN_ACCEPTED_WINDOW_SEQS),
};

/** The bounds for a replica created with `options` (its own batch size and window raise them). */
export function pbftMessageBounds(options: Readonly<Record<string, unknown>> = {}): PbftMessageBounds {
  const k = options['checkpointIntervalSeqs'];
  const window = options['logWindowSeqs'] ?? (typeof k === 'number' ? 2 * k : undefined);
  return {
    ...DEFAULT_PBFT_MESSAGE_BOUNDS,
    maxBatchRequests: boundFrom(options['maxBatchRequests'], DEFAULT_PBFT_MESSAGE_BOUNDS.maxBatchRequests),
    maxWindowSeqs: boundFrom(window, DEFAULT_PBFT_MESSAGE_BOUNDS.maxWindowSeqs),
  };
}

type Check = (v: unknown, b: PbftMessageBounds) => string | null;

const authText = (m: Fields, name: string, b: PbftMessageBounds): string | null =>
  (isText(m[name], b.maxAuthenticatorChars) ? null : `${name} is not a bounded string`);
const nodeField = (m: Fields, name: string, b: PbftMessageBounds): string | null =>
  (isName(m[name], b.maxNodeIdChars) ? null : `${name} is not a node id`);

/** A list of `item`s of at most `max`. */
function listProblem(v: unknown, max: number, what: string, item: Check, b: PbftMessageBounds): string | null {
  if (!isBoundedArray(v, max)) return `${what} is not an array of at most ${max}`;
  return firstBadItem(v, what, (x) => item(x, b));
}

/** A MAC vector: one bounded MAC per receiver, for at most maxMembers receivers. */
const macVectorProblem: Check = (v, b) => {
  if (!isObject(v)) return 'macs is not an object';
  const keys = Object.keys(v);
  if (keys.length > b.maxMembers) return `macs names more than ${b.maxMembers} receivers`;
  for (const k of keys) {
    if (k.length > b.maxNodeIdChars) return 'macs names a receiver with an overlong id';
    if (!isText(v[k], b.maxAuthenticatorChars)) return `macs[${k}] is not a bounded string`;
  }
  return null;
};

const requestProblem: Check = (v, b) => {
  if (!isObject(v)) return 'request is not an object';
  if (!isName(v['client'], b.maxNodeIdChars)) return 'client is not a principal';
  if (!isBytes(v['op'])) return 'op is not bytes';
  return natFields(v, 'timestamp') ?? boolFields(v, 'readOnly') ?? authText(v, 'signature', b);
};

const prePrepareProblem: Check = (v, b) => {
  if (!isObject(v)) return 'pre-prepare is not an object';
  return natFields(v, 'view', 'seq') ?? authText(v, 'digest', b) ?? nodeField(v, 'primary', b) ?? authText(v, 'signature', b)
    ?? listProblem(v['batch'], b.maxBatchRequests, 'batch', requestProblem, b);
};

const prepareProblem: Check = (v, b) => {
  if (!isObject(v)) return 'prepare is not an object';
  return natFields(v, 'view', 'seq') ?? authText(v, 'digest', b) ?? nodeField(v, 'replica', b) ?? authText(v, 'signature', b);
};

const checkpointProblem: Check = (v, b) => {
  if (!isObject(v)) return 'checkpoint is not an object';
  return natFields(v, 'seq') ?? authText(v, 'stateDigest', b) ?? nodeField(v, 'replica', b) ?? authText(v, 'signature', b);
};

const certificateProblem: Check = (v, b) => {
  if (!isObject(v)) return 'certificate is not an object';
  return prePrepareProblem(v['prePrepare'], b) ?? listProblem(v['prepares'], b.maxMembers, 'prepares', prepareProblem, b);
};

const viewChangeProblem: Check = (v, b) => {
  if (!isObject(v)) return 'view-change is not an object';
  return natFields(v, 'newView', 'stableSeq') ?? authText(v, 'stableDigest', b) ?? nodeField(v, 'replica', b) ?? authText(v, 'signature', b)
    ?? listProblem(v['checkpointProof'], b.maxMembers, 'checkpointProof', checkpointProblem, b)
    ?? listProblem(v['prepared'], b.maxWindowSeqs, 'prepared', certificateProblem, b);
};

const newViewProblem: Check = (v, b) => {
  if (!isObject(v)) return 'new-view is not an object';
  return natFields(v, 'view') ?? nodeField(v, 'primary', b) ?? authText(v, 'signature', b)
    ?? listProblem(v['viewChanges'], b.maxMembers, 'viewChanges', viewChangeProblem, b)
    ?? listProblem(v['prePrepares'], b.maxWindowSeqs, 'prePrepares', prePrepareProblem, b);
};

/** A part index: below MAX_STATE_PARTS. */
const partIndexProblem = (v: unknown): string | null => (isNat(v) && v < MAX_STATE_PARTS ? null : `part is not an index below ${MAX_STATE_PARTS}`);

/** A state's meta-data: sizes, and one bounded digest per part, as many as the sizes make (at most MAX_STATE_PARTS). */
const stateMetaProblem: Check = (v, b) => {
  if (!isObject(v)) return 'meta is not an object';
  const bad = natFields(v, 'totalBytes', 'partBytes');
  if (bad !== null) return bad;
  const total = v['totalBytes'] as number;
  const part = v['partBytes'] as number;
  if (part < 1 || part > MAX_STATE_PART_BYTES) return `partBytes is not 1 to ${MAX_STATE_PART_BYTES}`;
  const digests = v['partDigests'];
  if (!isBoundedArray(digests, MAX_STATE_PARTS)) return `partDigests is not an array of at most ${MAX_STATE_PARTS}`;
  if (digests.length !== Math.ceil(total / part)) return `${digests.length} part digests for ${total} bytes in parts of ${part}`;
  return firstBadItem(digests, 'partDigests', (d) => (isText(d, b.maxAuthenticatorChars) ? null : 'not a bounded string'));
};

const retransmittedProblem = (m: Fields): string | null =>
  (m['retransmitted'] === undefined || typeof m['retransmitted'] === 'boolean' ? null : 'retransmitted is not a boolean');

/** Fields of each message type besides from and to. */
const CHECKERS: Readonly<Record<PbftMessage['type'], (m: Fields, b: PbftMessageBounds) => string | null>> = {
  request: (m, b) => requestProblem(m['request'], b),
  'pre-prepare': (m, b) => prePrepareProblem(m['prePrepare'], b) ?? retransmittedProblem(m),
  prepare: (m, b) => prepareProblem(m['prepare'], b) ?? retransmittedProblem(m),
  commit: (m, b) => natFields(m, 'view', 'seq') ?? authText(m, 'digest', b) ?? nodeField(m, 'replica', b) ?? macVectorProblem(m['macs'], b) ?? retransmittedProblem(m),
  decided: (m, b) => natFields(m, 'view', 'seq') ?? authText(m, 'digest', b) ?? nodeField(m, 'replica', b) ?? macVectorProblem(m['macs'], b),
  checkpoint: (m, b) => checkpointProblem(m['checkpoint'], b),
  'view-change': (m, b) => viewChangeProblem(m['viewChange'], b),
  'new-view': (m, b) => newViewProblem(m['newView'], b),
  status: (m, b) => natFields(m, 'view', 'lastExecuted') ?? nodeField(m, 'replica', b) ?? macVectorProblem(m['macs'], b),
  'fetch-state': (m, b) => natFields(m, 'seq') ?? (m['part'] === null || partIndexProblem(m['part']) === null ? null : 'part is neither null nor a part index')
    ?? nodeField(m, 'replica', b) ?? macVectorProblem(m['macs'], b),
  'fetch-batch': (m, b) => natFields(m, 'seq') ?? authText(m, 'digest', b) ?? nodeField(m, 'replica', b) ?? macVectorProblem(m['macs'], b),
  batch: (m, b) => natFields(m, 'seq') ?? authText(m, 'digest', b) ?? listProblem(m['batch'], b.maxBatchRequests, 'batch', requestProblem, b),
  'state-meta': (m, b) => natFields(m, 'seq') ?? authText(m, 'stateDigest', b) ?? listProblem(m['proof'], b.maxMembers, 'proof', checkpointProblem, b)
    ?? stateMetaProblem(m['meta'], b),
  'state-part': (m, b) => natFields(m, 'seq') ?? authText(m, 'stateDigest', b) ?? partIndexProblem(m['part'])
    ?? (isBytes(m['data']) && m['data'].byteLength >= 1 && m['data'].byteLength <= MAX_STATE_PART_BYTES ? null : `data is not 1 to ${MAX_STATE_PART_BYTES} bytes`),
  reply: (m, b) => natFields(m, 'view', 'timestamp') ?? (isName(m['client'], b.maxNodeIdChars) ? null : 'client is not a principal')
    ?? nodeField(m, 'replica', b) ?? (isBytes(m['result']) ? null : 'result is not bytes') ?? boolFields(m, 'readOnly') ?? authText(m, 'mac', b),
};

/** A validator of PBFT messages for a replica created with `options`. */
export function pbftMessageValidator(options: Readonly<Record<string, unknown>> = {}): MessageValidator<PbftMessage> {
  return validatorByType<PbftMessage, PbftMessageBounds>('pbft', CHECKERS, pbftMessageBounds(options));
}

/** Check a PBFT message with the default bounds. */
export const validatePbftMessage: MessageValidator<PbftMessage> = pbftMessageValidator();
