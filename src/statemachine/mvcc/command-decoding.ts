/**
 * Decoding a KV command read from the log, total: any bytes decode either to a command whose
 * every field has the type the state machine relies on, or to `null` (malformed), which every
 * member answers with the same error result.
 *
 * A member's server builds each command well formed, but the log may still hold other bytes: a
 * faulty member, or under a Byzantine protocol a lying one that orders requests as its own
 * clients, can put anything there. Applying must then neither throw (an exception in the Ready
 * loop stops the member, and again on every restart, since it applies the same log again) nor
 * hand a field of the wrong type to code that trusts it (an assertion, a byte comparison, a
 * recursion with no bound). So the shape is checked here, field by field, before anything runs.
 *
 * Fields beyond the ones checked are ignored, as they were before this check existed.
 *
 * Lease ids are text (see lease-id.ts); a command written before they were holds a number, which
 * is read as the same id and left in the decoded command as text, so what is applied has one shape.
 */
import { unpack } from '../../core/codec.js';
import { MIN_TOKEN_KEY_BYTES, type AuthRequest, type PermissionType } from './auth-store.js';
import type { AlarmKind, ClusterRequest } from './cluster-state.js';
import type { KvCommand } from './kv-state-machine.js';
import type { LeaseRequest } from './leases.js';
import { leaseIdOf, NO_LEASE } from './lease-id.js';
import type { CompareResult, CompareTarget, SortOrder, SortTarget } from './requests.js';

/**
 * Deepest nesting of txns inside a txn that a command may hold (the shape check's recursion).
 * Above what a server can build: its encoder refuses values nested more than 100 levels, and each
 * txn level takes two. A txn nested deeper than MAX_TXN_NESTING (validate.ts) decodes here and is
 * answered too-many-ops at apply: its answer would not fit in a snapshot.
 */
export const MAX_TXN_DEPTH = 64;

type Fields = Readonly<Record<string, unknown>>;

const isFields = (v: unknown): v is Fields =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
/** A finite number (what the server's conversions produce for etcd's 64-bit integers). */
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isSafeInteger = (v: unknown): v is number => Number.isSafeInteger(v);
const isPositiveInteger = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
/** An optional field: absent, or null (how MessagePack carries a field that was `undefined`). */
const isAbsent = (v: unknown): boolean => v === undefined || v === null;
const oneOf = <T extends string>(values: readonly T[]): ((v: unknown) => v is T) => {
  const set: ReadonlySet<string> = new Set(values);
  return (v: unknown): v is T => typeof v === 'string' && set.has(v);
};

const isSortOrder = oneOf<SortOrder>(['NONE', 'ASCEND', 'DESCEND']);
const isSortTarget = oneOf<SortTarget>(['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE']);
const isCompareResult = oneOf<CompareResult>(['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL']);
const isCompareTarget = oneOf<CompareTarget>(['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE']);
const isPermissionType = oneOf<PermissionType>(['READ', 'WRITE', 'READWRITE']);
const isAlarmKind = oneOf<AlarmKind>(['NOSPACE', 'CORRUPT']);
const isAlarmAction = oneOf<Extract<ClusterRequest, { op: 'alarm' }>['action']>(['activate', 'deactivate', 'withdraw']);

/**
 * Whether `fields[name]` is a lease id (a grant's: non-zero); a number from an older command is
 * replaced by its text. The decoded object is this decoder's own, so rewriting it is safe.
 *
 * A number is read as the code before ids were text read it. That code took a grant's id only as
 * a positive safe integer; every other lease id (a put's lease, a compare's operand, a revoke,
 * renew or expiry) as any number, and its server read int64s as doubles, so an id above 2^53 a
 * client sent is in old logs as the double nearest to it (2^63 for ids near the top). Such a
 * double names no lease (leases were granted below 2^53): it is kept as the int64 it is, 2^63 as
 * the largest int64, which orders the same against every lease of that time. Refusing it would
 * make a member replaying the old log skip a txn that members restored from a later snapshot
 * applied.
 */
function isLeaseIdField(fields: Fields, name: string, grant = false): boolean {
  const v = fields[name];
  const id = typeof v !== 'number' ? leaseIdOf(v)
    : grant ? (isPositiveInteger(v) ? String(v) : null)
    : Number.isInteger(v) ? int64TextOfDouble(v) : null;
  if (id === null || (grant && id === NO_LEASE)) return false;
  (fields as Record<string, unknown>)[name] = id;
  return true;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** An integral double as int64 text, clamped to the int64 range (a rounded int64 reaches 2^63 at most). */
function int64TextOfDouble(v: number): string {
  const n = BigInt(v);
  return (n > INT64_MAX ? INT64_MAX : n < INT64_MIN ? INT64_MIN : n).toString();
}

/** The bytes as a command, or null when they are not one. Never throws. */
export function decodeKvCommand(bytes: Uint8Array): KvCommand | null {
  let value: unknown;
  try {
    value = unpack(bytes);
  } catch {
    return null; // not MessagePack (or trailing bytes): nothing to check further
  }
  return isKvCommand(value) ? value : null;
}

function isKvCommand(v: unknown): v is KvCommand {
  return isFields(v)
    && isString(v['client'])
    && isSafeInteger(v['seq'])
    && isSafeInteger(v['lowestPending'])
    && (isAbsent(v['user']) || isString(v['user']))
    && isFields(v['request'])
    && isRequest(v['request']);
}

/** Each request a command may carry, by its `op`; the table's type makes a new op need a check here. */
const REQUESTS: { readonly [Op in KvCommand['request']['op']]: (r: Fields) => boolean } = {
  'range': (r) => isTxnOp(r, 0),
  'put': (r) => isTxnOp(r, 0),
  'delete': (r) => isTxnOp(r, 0),
  'txn': (r) => isTxnOp(r, 0),
  'compact': (r) => isNumber(r['revision']),
  'compact-vote': (r) => isSafeInteger(r['revision']),
  'publish-member': (r) => isString(r['name']) && isStringList(r['clientUrls']) && (isAbsent(r['memberName']) || isString(r['memberName'])),
  ...authRequests(),
  ...leaseRequests(),
  ...clusterRequests(),
};

function isRequest(r: Fields): boolean {
  const op = r['op'];
  if (!isString(op) || !Object.hasOwn(REQUESTS, op)) return false;
  return REQUESTS[op as keyof typeof REQUESTS](r);
}

/** A request a txn may hold (and the same four at the top level), nested txns at most MAX_TXN_DEPTH deep. */
function isTxnOp(r: unknown, depth: number): boolean {
  if (!isFields(r)) return false;
  switch (r['op']) {
    case 'range':
      return isBytes(r['key']) && isBytes(r['rangeEnd']) && isNumber(r['limit']) && isNumber(r['revision'])
        && isSortOrder(r['sortOrder']) && isSortTarget(r['sortTarget']) && isBoolean(r['keysOnly']) && isBoolean(r['countOnly'])
        && isNumber(r['minModRevision']) && isNumber(r['maxModRevision'])
        && isNumber(r['minCreateRevision']) && isNumber(r['maxCreateRevision']);
    case 'put':
      return isBytes(r['key']) && isBytes(r['value']) && isLeaseIdField(r, 'lease')
        && isBoolean(r['prevKv']) && isBoolean(r['ignoreValue']) && isBoolean(r['ignoreLease']);
    case 'delete':
      return isBytes(r['key']) && isBytes(r['rangeEnd']) && isBoolean(r['prevKv']);
    case 'txn': {
      if (depth >= MAX_TXN_DEPTH) return false;
      const { compare, success, failure } = r;
      return Array.isArray(compare) && compare.every(isCompare)
        && Array.isArray(success) && success.every((op) => isTxnOp(op, depth + 1))
        && Array.isArray(failure) && failure.every((op) => isTxnOp(op, depth + 1));
    }
    default:
      return false;
  }
}

function isCompare(c: unknown): boolean {
  if (!isFields(c)) return false;
  const target = c['target'];
  return isCompareResult(c['result']) && isCompareTarget(target) && isBytes(c['key']) && isBytes(c['rangeEnd'])
    && (target === 'VALUE' ? isBytes(c['operand']) : target === 'LEASE' ? isLeaseIdField(c, 'operand') : isNumber(c['operand']));
}

function isPasswordHash(p: unknown): boolean {
  return isFields(p) && p['algorithm'] === 'scrypt'
    && isPositiveInteger(p['n']) && isPositiveInteger(p['r']) && isPositiveInteger(p['p'])
    && isBytes(p['salt']) && isBytes(p['hash'])
    && (isAbsent(p['loginKey']) || isBytes(p['loginKey']));
}

function authRequests(): { readonly [Op in AuthRequest['op']]: (r: Fields) => boolean } {
  return {
    // The auth store asserts the key's length: a shorter one must not reach it.
    'auth-enable': (r) => isBytes(r['tokenKey']) && r['tokenKey'].byteLength >= MIN_TOKEN_KEY_BYTES,
    'auth-token-key': (r) => isBytes(r['tokenKey']) && r['tokenKey'].byteLength >= MIN_TOKEN_KEY_BYTES,
    'auth-disable': () => true,
    // A session key and its binding come together (a login from before sessions has neither).
    'auth-login': (r) => isString(r['name']) && isSafeInteger(r['credentialRevision']) && isBytes(r['signature'])
      && ((isAbsent(r['sessionKey']) && isAbsent(r['binding'])) || (isBytes(r['sessionKey']) && isBytes(r['binding']))),
    'auth-login-use': (r) => isString(r['name']) && isBytes(r['binding']),
    'user-add': (r) => isString(r['name']) && (r['password'] === null || isPasswordHash(r['password'])),
    'user-delete': (r) => isString(r['name']),
    'user-change-password': (r) => isString(r['name']) && isPasswordHash(r['password']),
    'user-grant-role': (r) => isString(r['user']) && isString(r['role']),
    'user-revoke-role': (r) => isString(r['name']) && isString(r['role']),
    'role-add': (r) => isString(r['name']),
    'role-delete': (r) => isString(r['role']),
    'role-grant-permission': (r) => {
      const perm = r['perm'];
      return isString(r['name']) && isFields(perm) && isPermissionType(perm['permType']) && isBytes(perm['key']) && isBytes(perm['rangeEnd']);
    },
    'role-revoke-permission': (r) => isString(r['role']) && isBytes(r['key']) && isBytes(r['rangeEnd']),
  };
}

function leaseRequests(): { readonly [Op in LeaseRequest['op']]: (r: Fields) => boolean } {
  return {
    // The lease table asserts a granted id is a non-zero int64 (the server only asks for such).
    'lease-grant': (r) => isLeaseIdField(r, 'id', true) && isSafeInteger(r['ttlSeconds']) && r['ttlSeconds'] >= 0,
    'lease-revoke': (r) => isLeaseIdField(r, 'id'),
    'lease-renew': (r) => isLeaseIdField(r, 'id'),
    'lease-expire': (r) => isLeaseIdField(r, 'id') && isNumber(r['renewals']),
  };
}

function clusterRequests(): { readonly [Op in ClusterRequest['op']]: (r: Fields) => boolean } {
  return {
    'alarm': (r) => isAlarmAction(r['action']) && isString(r['memberId']) && isAlarmKind(r['alarm']),
    'member-update': (r) => isString(r['nodeId']) && isString(r['id']) && isStringList(r['peerUrls']),
  };
}
