/**
 * Checks of a request that need no state: a malformed request is refused before it reaches the
 * log, and the same check runs again at apply so every replica answers it identically.
 */
import { KvError } from './kv-errors.js';
import { keyString } from './key-index.js';
import type { KvRequest, TxnOp, TxnRequest } from './requests.js';

export interface KvLimits {
  /** Most operations in each of a txn's compare, success and failure lists (etcd --max-txn-ops). */
  readonly maxTxnOps: number;
}

export const DEFAULT_KV_LIMITS: KvLimits = { maxTxnOps: 128 };

export function validateRequest(req: KvRequest, limits: KvLimits = DEFAULT_KV_LIMITS): void {
  switch (req.op) {
    case 'range':
    case 'delete':
      if (req.key.byteLength === 0) throw new KvError('empty-key');
      return;
    case 'put':
      if (req.key.byteLength === 0) throw new KvError('empty-key');
      if (req.ignoreValue && req.value.byteLength !== 0) throw new KvError('value-provided');
      if (req.ignoreLease && req.lease !== 0) throw new KvError('lease-provided');
      return;
    case 'compact':
      return;
    case 'txn':
      validateTxn(req, limits);
      writtenKeys(req.success);
      writtenKeys(req.failure);
      return;
  }
}

function validateTxn(req: TxnRequest, limits: KvLimits): void {
  const max = limits.maxTxnOps;
  if (req.compare.length > max || req.success.length > max || req.failure.length > max) throw new KvError('too-many-ops');
  for (const op of [...req.success, ...req.failure]) validateRequest(op, limits);
}

/** A deleted range [from, to); `to === null` means unbounded. */
interface Interval {
  readonly from: string;
  readonly to: string | null;
}

interface Writes {
  readonly puts: Set<string>;
  readonly deletes: Interval[];
}

function deleteInterval(key: string, rangeEnd: string): Interval {
  if (rangeEnd === '') return { from: key, to: `${key}\u0000` };
  if (rangeEnd === '\u0000') return { from: key === '\u0000' ? '' : key, to: null };
  return { from: key, to: rangeEnd };
}

function deleted(key: string, deletes: readonly Interval[]): boolean {
  return deletes.some((d) => key >= d.from && (d.to === null || key < d.to));
}

/**
 * etcd's rule for one branch of a txn: a key is put at most once, and never inside a range the
 * same branch deletes, counting nested txns (whose own success and failure are alternatives,
 * so one key may appear in both). Throws `duplicate-key` otherwise.
 */
function writtenKeys(ops: readonly TxnOp[]): Writes {
  const puts = new Set<string>();
  const deletes: Interval[] = [];
  for (const op of ops) {
    if (op.op === 'delete') deletes.push(deleteInterval(keyString(op.key), keyString(op.rangeEnd)));
  }
  const claim = (key: string): void => {
    if (puts.has(key) || deleted(key, deletes)) throw new KvError('duplicate-key');
    puts.add(key);
  };
  for (const op of ops) {
    if (op.op !== 'txn') continue;
    const then = writtenKeys(op.success);
    const otherwise = writtenKeys(op.failure);
    for (const key of then.puts) claim(key);
    for (const key of otherwise.puts) {
      if (!then.puts.has(key)) claim(key);
      else if (deleted(key, deletes)) throw new KvError('duplicate-key');
    }
    deletes.push(...then.deletes, ...otherwise.deletes);
  }
  for (const op of ops) {
    if (op.op === 'put') claim(keyString(op.key));
  }
  return { puts, deletes };
}
