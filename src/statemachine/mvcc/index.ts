export * from './requests.js';
export * from './kv-errors.js';
export { KEY_OVERHEAD_BYTES, VERSION_OVERHEAD_BYTES } from './key-index.js';
export { MvccStore, type MvccEvent, type RevisionListener, type LeaseAttachments } from './store.js';
export * from './leases.js';
export * from './lease-id.js';
export * from './watchers.js';
export { DEFAULT_KV_LIMITS, MAX_TXN_NESTING, validateFields, validateRequest, validateWrites, type KvLimits, type WorkMeter } from './validate.js';
export { ClusterState, isClusterRequest, type AlarmKind, type AlarmRecord, type ClusterRequest, type ClusterResult, type MemberRecord, type MemberChangeContext } from './cluster-state.js';
export { decodeKvCommand, MAX_TXN_DEPTH } from './command-decoding.js';
export { KvStateMachine, encodeKvCommand, MAX_KV_SESSIONS, MAX_ALARM_VOTES_PER_MEMBER, type KvCommand, type KvOutcome, type PublishMember, type CompactVote, type PublishResult } from './kv-state-machine.js';
export {
  AuthStore, AUTH_ERROR_MESSAGES, isAuthErrorKind, isAuthRequest, ROOT_USER, ROOT_ROLE,
  MAX_AUTH_USERS, MAX_AUTH_ROLES, MAX_ROLES_PER_USER, MAX_PERMISSIONS_PER_ROLE, MAX_AUTH_PERMISSION_BYTES, PERMISSION_OVERHEAD_BYTES, MAX_MERGED_PERMISSION_BYTES, MERGED_INTERVAL_OVERHEAD_BYTES, MAX_AUTH_NAME_BYTES,
  type AuthErrorKind, type AuthRequest, type AuthResult, type AuthUser, type PasswordHash, type Permission, type PermissionType,
} from './auth-store.js';
