/**
 * The message schema of Viewstamped Replication: what a peer's decoded message must look like
 * before a replica acts on it (see src/core/validate.ts for why). Views, op-numbers and nonces are
 * safe non-negative integers; every array of ops is bounded.
 */
import {
  boundFrom, DEFAULT_COMMON_MESSAGE_BOUNDS, firstBadItem, isBoundedArray, isName, natField as nat, snapshotProblem, validatorByType,
  logEntryProblem, type CommonMessageBounds, type Fields, type MessageValidator,
} from '../../core/validate.js';
import { DEFAULT_VR_LIMITS, type VrMessage } from './types.js';

export interface VrMessageBounds extends CommonMessageBounds {
  /** Ops in one PREPARE, DO-VIEW-CHANGE, START-VIEW or NEWSTATE: the sender's maxOpsPerMessage, within this. */
  readonly maxOpsPerMessage: number;
}

/** Peers may be configured with up to this many ops per message regardless of this member's own limit. */
export const MIN_ACCEPTED_OPS_PER_MESSAGE = 4096;

export const DEFAULT_VR_MESSAGE_BOUNDS: VrMessageBounds = {
  ...DEFAULT_COMMON_MESSAGE_BOUNDS,
  maxOpsPerMessage: boundFrom(DEFAULT_VR_LIMITS.maxOpsPerMessage, MIN_ACCEPTED_OPS_PER_MESSAGE),
};

/** The bounds for a replica created with `options` (its maxOpsPerMessage raises the bound on ops). */
export function vrMessageBounds(options: Readonly<Record<string, unknown>> = {}): VrMessageBounds {
  return { ...DEFAULT_VR_MESSAGE_BOUNDS, maxOpsPerMessage: boundFrom(options['maxOpsPerMessage'], DEFAULT_VR_MESSAGE_BOUNDS.maxOpsPerMessage) };
}

/** Ops: a bounded array of log entries at consecutive op-numbers. */
function opsProblem(v: unknown, max: number): string | null {
  if (!isBoundedArray(v, max)) return `entries is not an array of at most ${max} ops`;
  const bad = firstBadItem(v, 'entries', logEntryProblem);
  if (bad !== null) return bad;
  for (let i = 1; i < v.length; i++) {
    if ((v[i] as Fields)['index'] !== ((v[i - 1] as Fields)['index'] as number) + 1) return 'entries are not consecutive ops';
  }
  return null;
}

const requestIdProblem = (m: Fields, b: CommonMessageBounds): string | null =>
  (isName(m['requestId'], b.maxRequestIdChars) ? null : 'requestId is not a bounded string');

/** Fields of each VR message type besides from, to and view, each read by its literal name (see natField). */
const CHECKERS: Readonly<Record<VrMessage['type'], (m: Fields, b: VrMessageBounds) => string | null>> = {
  prepare: (m, b) => nat(m['commit'], 'commit') ?? opsProblem(m['entries'], b.maxOpsPerMessage) ?? ((m['entries'] as unknown[]).length > 0 ? null : 'a PREPARE carries at least one op'),
  'prepare-ok': (m) => nat(m['opNumber'], 'opNumber'),
  commit: (m) => nat(m['commit'], 'commit') ?? nat(m['opNumber'], 'opNumber'),
  'start-view-change': () => null,
  'do-view-change': (m, b) => nat(m['lastNormalView'], 'lastNormalView') ?? nat(m['opNumber'], 'opNumber') ?? nat(m['commit'], 'commit')
    ?? opsProblem(m['entries'], b.maxOpsPerMessage)
    ?? ((m['lastNormalView'] as number) < (m['view'] as number) ? null : 'lastNormalView is not below view')
    ?? ((m['commit'] as number) <= (m['opNumber'] as number) ? null : 'commit is above opNumber'),
  'start-view': (m, b) => nat(m['opNumber'], 'opNumber') ?? nat(m['commit'], 'commit') ?? nat(m['fromOp'], 'fromOp')
    ?? opsProblem(m['entries'], b.maxOpsPerMessage)
    ?? ((m['fromOp'] as number) >= 1 ? null : 'fromOp is not a positive op-number')
    ?? ((m['commit'] as number) <= (m['opNumber'] as number) ? null : 'commit is above opNumber'),
  'get-state': (m) => nat(m['opNumber'], 'opNumber'),
  'new-state': (m, b) => nat(m['opNumber'], 'opNumber') ?? nat(m['commit'], 'commit') ?? opsProblem(m['entries'], b.maxOpsPerMessage),
  'new-state-snapshot': (m, b) => nat(m['opNumber'], 'opNumber') ?? nat(m['commit'], 'commit') ?? snapshotProblem(m['snapshot'], b),
  recovery: (m) => nat(m['nonce'], 'nonce'),
  'recovery-response': (m) => nat(m['nonce'], 'nonce') ?? nat(m['opNumber'], 'opNumber') ?? nat(m['commit'], 'commit')
    ?? (typeof m['primary'] === 'boolean' ? null : 'primary is not a boolean'),
  'read-index': (m, b) => requestIdProblem(m, b),
  'read-index-response': (m, b) => requestIdProblem(m, b) ?? nat(m['index'], 'index'),
};

/** A validator of VR messages for a replica created with `options`. */
export function vrMessageValidator(options: Readonly<Record<string, unknown>> = {}): MessageValidator<VrMessage> {
  return validatorByType<VrMessage, VrMessageBounds>('vr', CHECKERS, vrMessageBounds(options), (m) => nat(m['view'], 'view'));
}

/** Check a VR message with the default bounds. */
export const validateVrMessage: MessageValidator<VrMessage> = vrMessageValidator();
