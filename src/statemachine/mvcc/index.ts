export * from './requests.js';
export * from './kv-errors.js';
export { MvccStore } from './store.js';
export { DEFAULT_KV_LIMITS, validateRequest, type KvLimits } from './validate.js';
export { ClusterState, isClusterRequest, type AlarmKind, type AlarmRecord, type ClusterRequest, type ClusterResult, type MemberRecord, type MemberChangeContext } from './cluster-state.js';
export { KvStateMachine, encodeKvCommand, MAX_KV_SESSIONS, type KvCommand, type KvOutcome, type PublishMember, type PublishResult } from './kv-state-machine.js';
