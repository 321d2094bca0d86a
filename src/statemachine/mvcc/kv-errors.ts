/**
 * Errors of the key-value API. The messages are etcd's, word for word, because etcd clients
 * match on them (e.g. to tell "compacted" from other failures); `kind` is quorate's stable name.
 */

export type KvErrorKind =
  | 'empty-key'
  | 'key-not-found'
  | 'value-provided'
  | 'lease-provided'
  | 'lease-not-found'
  | 'duplicate-key'
  | 'too-many-ops'
  | 'compacted'
  | 'future-rev'
  | 'request-too-large'
  | 'lease-exists'
  | 'lease-ttl-too-large'
  | 'too-many-leases'
  | 'no-space'
  | 'corrupt'
  | 'malformed-command';

export const KV_ERROR_MESSAGES: Readonly<Record<KvErrorKind, string>> = {
  'empty-key': 'etcdserver: key is not provided',
  'key-not-found': 'etcdserver: key not found',
  'value-provided': 'etcdserver: value is provided',
  'lease-provided': 'etcdserver: lease is provided',
  'lease-not-found': 'etcdserver: requested lease not found',
  'duplicate-key': 'etcdserver: duplicate key given in txn request',
  'too-many-ops': 'etcdserver: too many operations in txn request',
  'compacted': 'etcdserver: mvcc: required revision has been compacted',
  'future-rev': 'etcdserver: mvcc: required revision is a future revision',
  'request-too-large': 'etcdserver: request is too large',
  'lease-exists': 'etcdserver: lease already exists',
  'lease-ttl-too-large': 'etcdserver: too large lease TTL',
  // etcd has no such limit; quorate's is MAX_LEASES (statemachine/mvcc/leases.ts).
  'too-many-leases': 'etcdserver: too many requests: too many leases exist; revoke some and retry',
  'no-space': 'etcdserver: mvcc: database space exceeded',
  'corrupt': 'etcdserver: corrupt cluster',
  // etcd has no such error (its apply loop panics on an entry it cannot decode); quorate answers
  // bytes in the log that are no command it knows with this, on every member alike.
  'malformed-command': 'etcdserver: malformed request: the log entry is no command this server can apply',
};

export class KvError extends Error {
  override readonly name = 'KvError';
  constructor(readonly kind: KvErrorKind) {
    super(KV_ERROR_MESSAGES[kind]);
  }
}

export function isKvErrorKind(s: unknown): s is KvErrorKind {
  return typeof s === 'string' && Object.hasOwn(KV_ERROR_MESSAGES, s);
}
