/**
 * etcd's rule on the writes of a txn (`checkIntervals`, server/etcdserver/api/v3rpc/key.go),
 * answered in O(n log n) for n puts and deletes however they nest.
 *
 * etcd's rule, per ops list ("level"): collect the level's delete ranges; then for each nested
 * txn in order, check the keys its success and its failure put (all levels below) against the
 * keys put so far and the ranges deleted so far, then add its deletes; then check the level's own
 * puts against everything. Success and failure of one txn may put the same key. Any clash is
 * `duplicate-key`. Ranges are etcd's interval tree's, with no special meaning for "\0": a delete
 * with no range end covers its key; one with range end `e` covers [key, e) in byte order, so a
 * range end at or below the key (e.g. the "\0" of "every key from here") covers nothing.
 *
 * Spelled out over the tree of levels and txns, a put p and a delete d (or another put of the
 * same key) clash exactly when their lowest common ancestor is a level (not a txn, whose
 * branches exclude each other) and, for a delete, d comes before p when each level is read as
 * its deletes, then its nested txns in order, then its puts. Walk the tree in that order twice,
 * once success before failure (order 1) and once failure before success (order 2): two leaves
 * whose common ancestor is a level are in the same order in both walks; under a txn the walks
 * disagree. So p clashes with d iff d precedes p in both orders and d covers p's key; two puts
 * of a key clash iff both orders agree. Puts of one key sorted by order 1 must therefore be
 * descending in order 2 (checking neighbours suffices); for deletes, a sweep in order 1 keeps,
 * per put key, the least order-2 position of a delete covering it (a segment tree over the sorted
 * put keys) and a put clashes when that is below its own.
 */
import { assert } from '../../core/assert.js';
import { KvError } from './kv-errors.js';
import { keyString } from './key-index.js';
import type { TxnOp, TxnRequest } from './requests.js';

/** Counts the steps of one check: key comparisons, search and tree steps (tests bound it). */
export interface WorkMeter {
  steps: number;
}

/** The puts and deletes of a txn tree, in order 1 (see the file comment). */
interface Leaves {
  /** The put's key, or null for a delete. */
  readonly putKey: (string | null)[];
  /** A delete's range [from, to), or to === null for a single key. */
  readonly from: string[];
  readonly to: (string | null)[];
  /** Per txn: where its success starts, where its failure starts, where its failure ends. */
  readonly txns: [number, number, number][];
}

/** Throws `duplicate-key` when a branch of `txn` (at any depth) writes a key twice as etcd forbids. */
export function checkTxnWrites(txn: TxnRequest, meter: WorkMeter = { steps: 0 }): void {
  const leaves: Leaves = { putKey: [], from: [], to: [], txns: [] };
  // The top-level success and failure are checked apart in etcd: the same as one txn's branches.
  collectTxn(txn, leaves);
  const order2 = secondOrder(leaves);
  const puts = sortedPuts(leaves, meter);
  if (puts.length === 0) return;
  checkPutPairs(puts, order2, leaves, meter);
  checkDeletes(puts, order2, leaves, meter);
}

function collectTxn(txn: TxnRequest, leaves: Leaves): void {
  const record: [number, number, number] = [leaves.putKey.length, 0, 0];
  leaves.txns.push(record);
  collectLevel(txn.success, leaves);
  record[1] = leaves.putKey.length;
  collectLevel(txn.failure, leaves);
  record[2] = leaves.putKey.length;
}

function collectLevel(ops: readonly TxnOp[], leaves: Leaves): void {
  for (const op of ops) {
    if (op.op !== 'delete') continue;
    leaves.putKey.push(null);
    leaves.from.push(keyString(op.key));
    leaves.to.push(op.rangeEnd.byteLength === 0 ? null : keyString(op.rangeEnd));
  }
  for (const op of ops) {
    if (op.op === 'txn') collectTxn(op, leaves);
  }
  for (const op of ops) {
    if (op.op !== 'put') continue;
    leaves.putKey.push(keyString(op.key));
    leaves.from.push('');
    leaves.to.push(null);
  }
}

/**
 * Each leaf's position in order 2: under every txn its failure moves ahead of its success (by the
 * success's length) and its success behind (by the failure's); the shifts of nested txns add up,
 * summed here with a difference array in one pass.
 */
function secondOrder(leaves: Leaves): Int32Array {
  const n = leaves.putKey.length;
  const shift = new Int32Array(n + 1);
  for (const [start, middle, end] of leaves.txns) {
    shift[start]! += end - middle;
    shift[middle]! -= end - middle;
    shift[middle]! -= middle - start;
    shift[end]! += middle - start;
  }
  const order2 = new Int32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += shift[i]!;
    order2[i] = i + sum;
  }
  return order2;
}

/** The leaf indexes of the puts, by key and then by order 1. */
function sortedPuts(leaves: Leaves, meter: WorkMeter): number[] {
  const puts: number[] = [];
  for (let i = 0; i < leaves.putKey.length; i++) if (leaves.putKey[i] !== null) puts.push(i);
  puts.sort((a, b) => {
    meter.steps++;
    const ka = leaves.putKey[a]!;
    const kb = leaves.putKey[b]!;
    return ka < kb ? -1 : ka > kb ? 1 : a - b;
  });
  return puts;
}

function checkPutPairs(puts: readonly number[], order2: Int32Array, leaves: Leaves, meter: WorkMeter): void {
  for (let i = 1; i < puts.length; i++) {
    meter.steps++;
    const a = puts[i - 1]!;
    const b = puts[i]!;
    if (leaves.putKey[a] === leaves.putKey[b] && order2[a]! < order2[b]!) throw new KvError('duplicate-key');
  }
}

function checkDeletes(puts: readonly number[], order2: Int32Array, leaves: Leaves, meter: WorkMeter): void {
  // The distinct put keys in byte order, and each put's rank among them.
  const keys: string[] = [];
  const rank = new Int32Array(leaves.putKey.length);
  for (const p of puts) {
    const key = leaves.putKey[p]!;
    if (keys.length === 0 || keys[keys.length - 1] !== key) keys.push(key);
    rank[p] = keys.length - 1;
  }
  const tree = new StabbingMin(keys.length, meter);
  for (let i = 0; i < leaves.putKey.length; i++) {
    const key = leaves.putKey[i];
    if (key === null) {
      const from = leaves.from[i]!;
      const to = leaves.to[i]!;
      const lo = lowerBound(keys, from, meter);
      const hi = to === null ? (keys[lo] === from ? lo + 1 : lo) : to <= from ? lo : lowerBound(keys, to, meter);
      tree.lower(lo, hi, order2[i]!);
    } else if (tree.least(rank[i]!) < order2[i]!) {
      throw new KvError('duplicate-key');
    }
  }
}

/** The first index of `sorted` whose key is >= `key`. */
function lowerBound(sorted: readonly string[], key: string, meter: WorkMeter): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    meter.steps++;
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Points 0..size-1, each with a value: lower every value in a range to at most v; read one point's. */
class StabbingMin {
  private readonly size: number;
  private readonly nodes: Int32Array;

  constructor(size: number, private readonly meter: WorkMeter) {
    assert(size >= 1, 'a tree over at least one point');
    this.size = size;
    this.nodes = new Int32Array(2 * size).fill(0x7fffffff);
  }

  lower(from: number, to: number, v: number): void {
    let lo = from + this.size;
    let hi = to + this.size;
    while (lo < hi) {
      this.meter.steps++;
      if ((lo & 1) === 1) {
        this.nodes[lo] = Math.min(this.nodes[lo]!, v);
        lo++;
      }
      if ((hi & 1) === 1) {
        hi--;
        this.nodes[hi] = Math.min(this.nodes[hi]!, v);
      }
      lo >>= 1;
      hi >>= 1;
    }
  }

  least(point: number): number {
    let least = 0x7fffffff;
    for (let i = point + this.size; i >= 1; i >>= 1) {
      this.meter.steps++;
      least = Math.min(least, this.nodes[i]!);
    }
    return least;
  }
}
