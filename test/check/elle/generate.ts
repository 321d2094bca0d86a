/**
 * Random list-append histories that are strictly serializable by construction: transactions
 * take effect one at a time against an in-memory store, each at a commit instant inside its
 * [invoke, complete] interval, so clients overlap but the history stays valid. Keys retire after
 * a number of appends (as Jepsen's append workload rotates them), so lists stay short.
 */
import type { ListValue, MicroOp, Txn, TxnOutcome } from '../../../src/check/elle/index.js';
import type { Random } from '../../../src/core/prng.js';

export interface GenerateOptions {
  readonly transactions: number;
  /** Keys in use at once. */
  readonly keys?: number;
  /** Appends after which a key is retired for a fresh one. */
  readonly appendsPerKey?: number;
  /** How far around its commit instant a transaction's interval reaches (0: serial). */
  readonly spread?: number;
  /** Chance a transaction fails (no effect) and chance it ends unknown (effect or not). */
  readonly failRate?: number;
  readonly unknownRate?: number;
}

export function randomHistory(random: Random, o: GenerateOptions): Txn[] {
  const keys = o.keys ?? 8;
  const perKey = o.appendsPerKey ?? 32;
  const spread = o.spread ?? 0;
  const store = new Map<string, ListValue[]>();
  const appends = new Map<string, number>();
  const active: string[] = [];
  let nextKey = 0;
  for (let i = 0; i < keys; i++) active.push(`k${nextKey++}`);
  let nextValue = 1;
  const out: Txn[] = [];
  for (let i = 0; i < o.transactions; i++) {
    const commit = i * 10;
    const roll = random.float();
    const outcome: TxnOutcome = roll < (o.failRate ?? 0) ? 'fail' : roll < (o.failRate ?? 0) + (o.unknownRate ?? 0) ? 'unknown' : 'ok';
    // An unknown transaction takes effect half the time; a failed one never.
    const applies = outcome === 'ok' || (outcome === 'unknown' && random.chance(0.5));
    const n = random.int(1, 4);
    const ops: MicroOp[] = [];
    const pending = new Map<string, ListValue[]>();
    for (let j = 0; j < n; j++) {
      const slot = random.int(0, keys - 1);
      const key = active[slot]!;
      const current = pending.get(key) ?? [...(store.get(key) ?? [])];
      if (random.chance(0.5)) {
        const v = nextValue++;
        current.push(v);
        ops.push(['append', key, v]);
        const count = (appends.get(key) ?? 0) + 1;
        appends.set(key, count);
        if (count >= perKey) active[slot] = `k${nextKey++}`;
      } else {
        ops.push(['r', key, outcome === 'ok' ? (current.length === 0 ? null : [...current]) : null]);
      }
      pending.set(key, current);
    }
    if (applies) for (const [k, v] of pending) store.set(k, v);
    const invokedAt = commit - (spread > 0 ? random.int(0, spread) : 0);
    const completedAt = outcome === 'unknown' ? Number.POSITIVE_INFINITY : commit + 5 + (spread > 0 ? random.int(0, spread) : 0);
    out.push({ id: i, client: i % 16, ops, outcome, invokedAt, completedAt });
  }
  return out;
}
