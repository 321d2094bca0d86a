export * from './requests.js';
export * from './kv-errors.js';
export { MvccStore, type MvccEvent, type RevisionListener, type LeaseAttachments } from './store.js';
export * from './leases.js';
export * from './watchers.js';
export { DEFAULT_KV_LIMITS, validateRequest, type KvLimits } from './validate.js';
export { KvStateMachine, encodeKvCommand, MAX_KV_SESSIONS, type KvCommand, type KvOutcome, type PublishMember, type PublishResult } from './kv-state-machine.js';
