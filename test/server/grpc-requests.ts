/**
 * Fuzz inputs for the gRPC services: a valid request for every RPC quorate serves, and seeded
 * ways to break one: as protobuf bytes (random bytes, valid bytes with bits flipped, cut, grown,
 * or a field repeated) and as objects (a field of the wrong type, a negative or huge number, a
 * huge value, deeply nested transactions) encoded by the method's own serializer. What the
 * serializer cannot encode is never sent (counted as such): the server only ever sees bytes.
 */
import type { Random } from '../../src/core/prng.js';

/** A huge value is at most this many bytes (above the 1.5 MiB request limit and gRPC's 2 MiB receive limit). */
export const HUGE_BYTES = 3 * 1024 * 1024;
/** Nested transactions go at most this deep. */
export const MAX_TXN_DEPTH = 80;
/** Random byte strings are at most this long. */
export const MAX_RANDOM_BYTES = 96;
/** A field repeated many times gets 100 to this many elements... */
export const MAX_REPEATS = 5000;
/**
 * ...and at most this many nodes (objects, arrays and leaves) in all, as encoded: repeating a
 * field that an earlier mutation already repeated would otherwise multiply the two counts (a
 * `success` of 3628 copies, then a put inside it repeated 4460 times, is 16 million puts; at
 * budget 100 the fuzz ran out of a 4 GB heap building that request, before sending it).
 */
export const MAX_REPEATED_NODES = 50_000;
/**
 * ...and at most this many bytes of byte strings and strings in all: a huge value repeated 5000
 * times as copies is 15 GB (as references it was one value, but the encoder wrote each). Above
 * the 1.5 MiB request limit, so a repeated huge value is still sent and refused for its size.
 */
export const MAX_REPEATED_BYTES = 8 * 1024 * 1024;

export interface Fixtures {
  /** A lease the Lock, Election and lease requests name (granted before the fuzz). */
  readonly lease: number;
  /** This member's id (as a decimal string: member ids use all 64 bits). */
  readonly memberId: string;
}

const b = (s: string) => Buffer.from(s);

/** A valid request per `Service/Method`; RPCs not listed get `{}` (valid for most of them). */
export function validRequests(f: Fixtures): Record<string, Record<string, unknown>> {
  const leader = { name: b('fuzz-elect'), key: b('fuzz-elect/1'), rev: 1, lease: f.lease };
  return {
    'KV/Range': { key: b('fuzz/a'), range_end: b('fuzz/z'), limit: 10, serializable: false },
    'KV/Put': { key: b('fuzz/a'), value: b('v'), prev_kv: true },
    'KV/DeleteRange': { key: b('fuzz/a'), range_end: b('fuzz/b'), prev_kv: true },
    'KV/Txn': {
      compare: [{ key: b('fuzz/a'), target: 'VALUE', result: 'EQUAL', value: b('v') }],
      success: [{ request_put: { key: b('fuzz/b'), value: b('x') } }],
      failure: [{ request_range: { key: b('fuzz/a') } }],
    },
    'KV/Compact': { revision: 1, physical: false },
    'Watch/Watch': { create_request: { key: b('fuzz/'), range_end: b('fuzz0'), start_revision: 1, progress_notify: true, prev_kv: true } },
    'Lease/LeaseGrant': { TTL: 30, ID: 0 },
    'Lease/LeaseRevoke': { ID: 424242 },
    'Lease/LeaseKeepAlive': { ID: f.lease },
    'Lease/LeaseTimeToLive': { ID: f.lease, keys: true },
    'Lease/LeaseLeases': {},
    'Cluster/MemberAdd': { peerURLs: ['http://127.0.0.1:9'], isLearner: true },
    'Cluster/MemberRemove': { ID: 12345 },
    'Cluster/MemberUpdate': { ID: f.memberId, peerURLs: ['http://127.0.0.1:9'] },
    'Cluster/MemberList': { linearizable: true },
    'Cluster/MemberPromote': { ID: 12345 },
    'Maintenance/Alarm': { action: 'GET', memberID: 0, alarm: 'NONE' },
    'Maintenance/HashKV': { revision: 0 },
    'Maintenance/MoveLeader': { targetID: 12345 },
    'Maintenance/Downgrade': { action: 'VALIDATE', version: '3.5' },
    'Auth/Authenticate': { name: 'fuzz-user', password: 'fuzz-pw' },
    'Auth/UserAdd': { name: 'fuzz-user2', password: 'pw', options: { no_password: false } },
    'Auth/UserGet': { name: 'fuzz-user' },
    'Auth/UserDelete': { name: 'fuzz-user2' },
    'Auth/UserChangePassword': { name: 'fuzz-user2', password: 'pw2' },
    'Auth/UserGrantRole': { user: 'fuzz-user2', role: 'fuzz-role' },
    'Auth/UserRevokeRole': { name: 'fuzz-user2', role: 'fuzz-role' },
    'Auth/RoleAdd': { name: 'fuzz-role2' },
    'Auth/RoleGet': { role: 'fuzz-role' },
    'Auth/RoleDelete': { role: 'fuzz-role2' },
    'Auth/RoleGrantPermission': { name: 'fuzz-role2', perm: { permType: 'READWRITE', key: b('fuzz/'), range_end: b('fuzz0') } },
    'Auth/RoleRevokePermission': { role: 'fuzz-role2', key: b('fuzz/'), range_end: b('fuzz0') },
    'Lock/Lock': { name: b('fuzz-lock'), lease: f.lease },
    'Lock/Unlock': { key: b('fuzz-lock/1') },
    'Election/Campaign': { name: b('fuzz-elect'), lease: f.lease, value: b('v') },
    'Election/Proclaim': { leader, value: b('w') },
    'Election/Leader': { name: b('fuzz-elect') },
    'Election/Observe': { name: b('fuzz-elect') },
    'Election/Resign': { leader },
  };
}

export function randomBytes(r: Random, max = MAX_RANDOM_BYTES): Buffer {
  const out = Buffer.alloc(r.int(0, max));
  for (let i = 0; i < out.length; i++) out[i] = r.int(0, 255);
  return out;
}

/** Valid protobuf bytes broken one seeded way (or several). */
export function mutateBytes(r: Random, valid: Buffer): Buffer {
  let out = Buffer.from(valid);
  for (let n = r.int(1, 3); n > 0; n--) {
    switch (r.int(0, 5)) {
      case 0: // flip bits
        if (out.length > 0) for (let k = r.int(1, 4); k > 0; k--) out[r.int(0, out.length - 1)]! ^= 1 << r.int(0, 7);
        break;
      case 1: // cut
        out = out.subarray(0, r.int(0, out.length));
        break;
      case 2: // random bytes appended (a field of a random tag and wire type, often)
        out = Buffer.concat([out, randomBytes(r, 16)]);
        break;
      case 3: // a length-delimited field whose length runs past the end
        out = Buffer.concat([out, Buffer.from([(r.int(1, 15) << 3) | 2, 0xff, 0xff, 0xff, 0x7f]), randomBytes(r, 8)]);
        break;
      case 4: // the message twice (protobuf merges: repeated fields grow, scalars take the last)
        out = Buffer.concat([out, out]);
        break;
      default: // an overlong varint
        out = Buffer.concat([out, Buffer.from([0x08, ...Array.from({ length: 11 }, () => 0xff), 0x01])]);
    }
  }
  return out;
}

/** A value that is not what the field holds, or is at an edge of what it may hold. */
function breaking(r: Random, old: unknown): unknown {
  // Copies, never `old` itself twice: a later mutation inside a shared object would change it in
  // every place it is shared, and paths() (like the encoder) walks each place.
  const edge = r.pick<unknown>([
    -1, -(2 ** 31), 2 ** 53, -(2 ** 53), 1.5, Number.NaN, Infinity, '-9223372036854775808', '18446744073709551615', '99999999999999999999999',
    '', 'x', 'root', '\u0000', 'é'.repeat(300), b('\u0000'), true, null, [], {}, [old, clone(old)], { nested: { deeper: old } },
  ]);
  // Now and then a huge value (past the request limits: refused whole, before anything is applied).
  if (r.chance(0.02)) return Buffer.alloc(r.int(1024 * 1024, HUGE_BYTES), 0x61);
  if (r.chance(0.05)) return repeated(r, old);
  return edge;
}

/** `old` repeated 100 to MAX_REPEATS times, as copies, with at most MAX_REPEATED_NODES nodes and MAX_REPEATED_BYTES bytes in all. */
export function repeated(r: Random, old: unknown): unknown[] {
  const wanted = r.int(100, MAX_REPEATS);
  const fitsNodes = Math.floor(MAX_REPEATED_NODES / treeNodes(old, MAX_REPEATED_NODES));
  const fitsBytes = Math.floor(MAX_REPEATED_BYTES / Math.max(1, treeBytes(old, MAX_REPEATED_BYTES)));
  return Array.from({ length: Math.max(1, Math.min(wanted, fitsNodes, fitsBytes)) }, () => clone(old));
}

/** The bytes of the byte strings and strings in `v` as a tree (as treeNodes counts), counting stops past `limit`. */
export function treeBytes(v: unknown, limit = Number.MAX_SAFE_INTEGER): number {
  let n = 0;
  const walk = (x: unknown): void => {
    if (Buffer.isBuffer(x)) n += x.byteLength;
    else if (typeof x === 'string') n += x.length;
    else if (typeof x === 'object' && x !== null) {
      for (const y of Array.isArray(x) ? x : Object.values(x)) {
        walk(y);
        if (n > limit) return;
      }
    }
  };
  walk(v);
  return n;
}

/**
 * The nodes of `v` as a tree (a shared object counted in every place, as paths() and the encoder
 * see it), counting stops past `limit`.
 */
export function treeNodes(v: unknown, limit = Number.MAX_SAFE_INTEGER): number {
  let n = 0;
  const walk = (x: unknown): void => {
    n++;
    if (n > limit || Buffer.isBuffer(x) || typeof x !== 'object' || x === null) return;
    for (const y of Array.isArray(x) ? x : Object.values(x)) {
      walk(y);
      if (n > limit) return;
    }
  };
  walk(v);
  return n;
}

function clone(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (Array.isArray(v)) return v.map(clone);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}

function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Buffer.isBuffer(v) || typeof v !== 'object' || v === null) return out;
  for (const [k, x] of Array.isArray(v) ? v.entries() : Object.entries(v)) {
    out.push([...prefix, k]);
    paths(x, [...prefix, k], out);
  }
  return out;
}

/**
 * A transaction `depth` levels deep (each level a txn request inside the last one's success
 * branch, and a put of the same key in its failure branch). Only the success branch nests: a
 * level that held the txn below in both branches would encode to about 2^depth * 28 bytes (the
 * same object serialized twice per level), so that at MAX_TXN_DEPTH the client ran out of memory
 * building the request, and anything past depth 15 was over the request limit anyway.
 */
export function nestedTxn(depth: number): Record<string, unknown> {
  const put = (d: number) => ({ request_put: { key: b('fuzz/deep'), value: b(String(d)) } });
  let txn: Record<string, unknown> = { success: [put(depth)] };
  for (let d = 0; d < depth; d++) txn = { success: [{ request_txn: txn }], failure: [put(d)] };
  return txn;
}

/** `valid` with one to three fields replaced, removed or added, or (for Txn) nested deep. */
export function mutateObject(r: Random, method: string, valid: Record<string, unknown>): Record<string, unknown> {
  if (method === 'KV/Txn' && r.chance(0.15)) return nestedTxn(r.int(2, MAX_TXN_DEPTH));
  const copy = clone(valid) as Record<string, unknown>;
  for (let n = r.int(1, 3); n > 0; n--) {
    const all = paths(copy);
    if (all.length === 0 || r.chance(0.1)) {
      copy[r.pick(['key', 'ID', 'name', 'x', 'lease', 'range_end', 'TTL'])] = breaking(r, 1);
      continue;
    }
    const path = r.pick(all);
    let parent = copy as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const key = path[path.length - 1]!;
    if (r.chance(0.15)) delete parent[key];
    else parent[key] = breaking(r, parent[key]);
  }
  return copy;
}

/** Whether a key range (etcd's [key, range_end) rules) holds `k`. */
function rangeHolds(key: Buffer, rangeEnd: Buffer | undefined, k: Buffer): boolean {
  if (rangeEnd === undefined || rangeEnd.length === 0) return key.equals(k);
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return Buffer.compare(k, key) >= 0;
  return Buffer.compare(k, key) >= 0 && Buffer.compare(k, rangeEnd) < 0;
}

type Decoded = Record<string, unknown>;
const buf = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));

/** Whether a decoded KV request (as the server decodes it) could delete or overwrite one of `keys`. */
export function mayChange(method: string, req: Decoded, keys: readonly Buffer[]): boolean {
  const ops = (list: unknown): boolean => Array.isArray(list) && list.some((op: Decoded) => {
    if (op['request_delete_range']) {
      const d = op['request_delete_range'] as Decoded;
      return keys.some((k) => rangeHolds(buf(d['key']), buf(d['range_end']), k));
    }
    if (op['request_put']) return keys.some((k) => buf((op['request_put'] as Decoded)['key']).equals(k));
    if (op['request_txn']) return mayChange('KV/Txn', op['request_txn'] as Decoded, keys);
    return false;
  });
  if (method === 'KV/DeleteRange') return keys.some((k) => rangeHolds(buf(req['key']), buf(req['range_end']), k));
  if (method === 'KV/Put') return keys.some((k) => buf(req['key']).equals(k));
  if (method === 'KV/Txn') return ops(req['success']) || ops(req['failure']);
  return false;
}
