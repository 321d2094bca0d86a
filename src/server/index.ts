export { startMember, memberKeysRequired, type Member, type MemberOptions } from './member.js';
export { EtcdServer, ETCD_API_VERSION, DEFAULT_SERVER_LIMITS, type ServerLimits, type EtcdServerOptions } from './etcd-server.js';
export { AuthService, DEFAULT_AUTH_TOKEN_TTL_MS, WATCH_PERMISSION_DENIED_REASON, type AuthServiceOptions } from './auth-service.js';
export { parseInitialCluster, memberId, clusterId, type ClusterIdentity, type MemberConfig } from './cluster-config.js';
export type { ServingNode } from './serving-node.js';
