/**
 * Lease ids: etcd's int64, held as canonical decimal text ("0", "42", "-7", never "+7" or "007").
 *
 * etcd's own generator makes ids above 2^53, where a JavaScript number rounds (2^53 + 1 reads
 * as 2^53), and a client may choose any non-zero int64. Text is exact, is what the gRPC layer
 * hands over for 64-bit fields (see server/proto.ts), and encodes as itself in MessagePack (log
 * entries and snapshots), where a bigint has no encoding. One id has one text, so ids compare
 * equal as strings; order (a txn's LEASE compare) goes through BigInt.
 *
 * Commands and snapshots written before ids were text hold them as numbers (then always safe
 * integers): `leaseIdOf` reads both.
 */

export type LeaseId = string;

/** No lease (a key without one; a grant with it asks the server to choose). */
export const NO_LEASE: LeaseId = '0';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Canonical decimal: no sign on zero, no leading zeros; at most 19 digits (int64 has 19). */
const CANONICAL = /^(?:0|-?[1-9][0-9]{0,18})$/;

/** Whether `v` is an int64 as canonical decimal text (a lease id, or any other 64-bit id). */
export function isInt64Text(v: unknown): v is string {
  if (typeof v !== 'string' || !CANONICAL.test(v)) return false;
  // Up to 18 digits is always an int64 (below 10^18 < 2^63): no BigInt on every put's lease.
  if (v.length <= 18) return true;
  const n = BigInt(v);
  return n >= INT64_MIN && n <= INT64_MAX;
}

export const isLeaseId: (v: unknown) => v is LeaseId = isInt64Text;

/** An int64 as canonical text, from text or a safe-integer number; null for anything else. */
export function int64TextOf(v: unknown): string | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : null;
  return isInt64Text(v) ? v : null;
}

/** A lease id as a command or snapshot holds it (text, or a number from before ids were text), or null. */
export const leaseIdOf: (v: unknown) => LeaseId | null = int64TextOf;

/** -1, 0 or 1 as `a` is below, equal to or above `b` (as int64s). */
export function compareLeaseIds(a: LeaseId, b: LeaseId): number {
  if (a === b) return 0;
  return BigInt(a) < BigInt(b) ? -1 : 1;
}

/** The id in lower-case hex, as etcd's tools print it (Go's %x of an int64: a negative one keeps its sign). */
export function leaseIdHex(id: LeaseId): string {
  return BigInt(id).toString(16);
}
