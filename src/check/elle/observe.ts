/**
 * What a list-append history shows, per key: who appended each value, which reads saw what, and
 * the version order the reads imply (Elle §4: a list read reveals the whole order of the appends
 * before it, so the longest read of a key orders every value any read of it saw). Also the
 * anomalies that need no dependency graph: incompatible orders, duplicate elements, reads of
 * values nobody appended, aborted reads (G1a), intermediate reads (G1b), internal inconsistency
 * and lost appends.
 */
import type { Anomaly, ListValue, Txn } from './history.js';

/** A history the checker cannot judge (two appends of one value to one key). */
export class ListAppendInputError extends Error {
  override readonly name = 'ListAppendInputError';
}

/** One append: its transaction (index into the history) and whether it was that transaction's last append to the key. */
export interface Append {
  readonly txn: number;
  final: boolean;
  /** Whether some ok read saw it. */
  observed: boolean;
}

/** A read of a committed (`ok`) transaction. */
export interface Read {
  readonly txn: number;
  readonly key: number;
  readonly list: readonly ListValue[];
  /** The transaction's first touch of the key (no earlier read or append of it): the state it saw is another's. */
  readonly external: boolean;
}

export interface KeyFacts {
  readonly name: string;
  readonly appends: Map<ListValue, Append>;
  /** Indices into Observations.reads. */
  readonly reads: number[];
  /** The key's version order (the longest read), or null when its reads disagree or repeat an element. */
  order: readonly ListValue[] | null;
}

export interface Observations {
  readonly keys: KeyFacts[];
  readonly reads: Read[];
  /** Per transaction (by index): whether it committed as far as the history shows (ok, or unknown with an append observed). */
  readonly committed: Uint8Array;
  readonly anomalies: Anomaly[];
}

/** Collects anomalies up to a cap per type (the rest are counted). */
export class AnomalySink {
  readonly list: Anomaly[] = [];
  readonly counts = new Map<string, number>();
  constructor(private readonly maxPerType: number) {}
  add(make: () => Anomaly, type: string): void {
    const n = this.counts.get(type) ?? 0;
    this.counts.set(type, n + 1);
    if (n < this.maxPerType) this.list.push(make());
  }
}

const show = (list: readonly ListValue[] | null): string => (list === null ? 'nil' : `[${list.join(' ')}]`);

/** Keys, appends and reads of the history, with each ok transaction's internal consistency checked. */
function index(history: readonly Txn[], sink: AnomalySink): { keys: KeyFacts[]; reads: Read[] } {
  const keyIds = new Map<string, number>();
  const keys: KeyFacts[] = [];
  const reads: Read[] = [];
  const keyOf = (name: string): number => {
    let k = keyIds.get(name);
    if (k === undefined) {
      k = keys.length;
      keyIds.set(name, k);
      keys.push({ name, appends: new Map(), reads: [], order: null });
    }
    return k;
  };
  for (let t = 0; t < history.length; t++) {
    const txn = history[t]!;
    const ok = txn.outcome === 'ok';
    // Per key this transaction touched: what it must see next (null: it has not read the key,
    // so only its own appends are known, as `mine`), and its last append's record.
    // (A map: one transaction may touch very many keys.)
    const touched = new Map<number, { known: ListValue[] | null; mine: ListValue[]; last: Append | null }>();
    const touch = (key: number) => {
      let s = touched.get(key);
      const first = s === undefined;
      if (s === undefined) {
        s = { known: null, mine: [], last: null };
        touched.set(key, s);
      }
      return { s, first };
    };
    for (const op of txn.ops) {
      const key = keyOf(op[1]);
      const { s, first } = touch(key);
      if (op[0] === 'append') {
        const value = op[2];
        const facts = keys[key]!;
        if (facts.appends.has(value)) throw new ListAppendInputError(`value ${value} is appended to key ${op[1]} twice (T${history[facts.appends.get(value)!.txn]!.id} and T${txn.id}): appended values must be unique per key`);
        if (s.last !== null) s.last.final = false;
        const a: Append = { txn: t, final: true, observed: false };
        facts.appends.set(value, a);
        s.last = a;
        s.mine.push(value);
        if (s.known !== null) s.known.push(value);
        continue;
      }
      if (!ok) continue; // an unfinished or aborted transaction's reads are not known
      const list = op[2] ?? [];
      // Internal consistency: a read after the transaction's own read sees that read plus its
      // own appends since; a read after only its own appends ends with them.
      const expected = s.known;
      const consistent = expected !== null ? equal(list, expected) : endsWith(list, s.mine);
      if (!consistent) {
        sink.add(() => ({
          type: 'internal', txns: [txn], key: op[1],
          message: expected !== null
            ? `T${txn.id} read ${show(list)} of ${op[1]} but its own earlier read and appends make it ${show(expected)}`
            : `T${txn.id} read ${show(list)} of ${op[1]}, which does not end with its own earlier appends ${show(s.mine)}`,
        }), 'internal');
      }
      s.known = [...list];
      reads.push({ txn: t, key, list, external: first });
      keys[key]!.reads.push(reads.length - 1);
    }
  }
  return { keys, reads };
}

function equal(a: readonly ListValue[], b: readonly ListValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function endsWith(list: readonly ListValue[], tail: readonly ListValue[]): boolean {
  if (tail.length > list.length) return false;
  const off = list.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (list[off + i] !== tail[i]) return false;
  return true;
}

/** Whether `a` is a prefix of `b`. */
function isPrefix(a: readonly ListValue[], b: readonly ListValue[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Each key's version order from its longest read; every other read must be a prefix of it. A
 * key whose reads disagree, or whose longest read repeats an element, gets no order (and its
 * anomaly); the values its reads saw are still marked observed.
 */
function orderKeys(history: readonly Txn[], keys: KeyFacts[], reads: readonly Read[], sink: AnomalySink): void {
  for (const facts of keys) {
    if (facts.reads.length === 0) continue;
    let longest = reads[facts.reads[0]!]!;
    for (const r of facts.reads) if (reads[r]!.list.length > longest.list.length) longest = reads[r]!;
    let compatible = true;
    for (const r of facts.reads) {
      const read = reads[r]!;
      if (read.list.length > 0 && !isPrefix(read.list, longest.list)) {
        compatible = false;
        const a = history[read.txn]!;
        const b = history[longest.txn]!;
        sink.add(() => ({
          type: 'incompatible-order', txns: [a, b], key: facts.name,
          message: `key ${facts.name}: T${a.id} read ${show(read.list)}, which is not a prefix of T${b.id}'s ${show(longest.list)}`,
        }), 'incompatible-order');
        break;
      }
    }
    // Duplicates: a compatible key's reads are prefixes of the longest, so it holds any repeat.
    const seen = new Set<ListValue>();
    for (const r of compatible ? [facts.reads.find((x) => reads[x] === longest)!] : facts.reads) {
      const read = reads[r]!;
      const own = new Set<ListValue>();
      let repeated = false;
      for (const v of read.list) {
        if (own.has(v) && !repeated) {
          repeated = true;
          const t = history[read.txn]!;
          sink.add(() => ({ type: 'duplicate-elements', txns: [t], key: facts.name, message: `T${t.id} read ${show(read.list)} of ${facts.name}, where ${v} appears more than once` }), 'duplicate-elements');
          compatible = false;
        }
        own.add(v);
        seen.add(v);
      }
    }
    facts.order = compatible ? longest.list : null;
    for (const v of seen) {
      const a = facts.appends.get(v);
      if (a !== undefined) a.observed = true;
    }
  }
}

/**
 * Reads of values nobody appended (garbage), appended by an aborted transaction (G1a), or that
 * were not their writer's last append to the key (G1b, intermediate read).
 */
function checkReads(history: readonly Txn[], keys: KeyFacts[], reads: readonly Read[], sink: AnomalySink): void {
  for (const facts of keys) {
    const firstReader = new Map<ListValue, number>();
    // Garbage and G1a, once per value: a compatible key's reads are prefixes of its order, so
    // the read that is its order holds every value read.
    const full = facts.order === null ? -1 : facts.reads.find((x) => reads[x]!.list === facts.order)!;
    for (const r of facts.reads) {
      const read = reads[r]!;
      const reader = history[read.txn]!;
      const list = read.list;
      const values = full < 0 || r === full ? list : [];
      for (const v of values) {
        if (firstReader.has(v)) continue;
        firstReader.set(v, read.txn);
        const a = facts.appends.get(v);
        if (a === undefined) {
          sink.add(() => ({ type: 'garbage-read', txns: [reader], key: facts.name, message: `T${reader.id} read ${v} in ${facts.name}, which no transaction appended` }), 'garbage-read');
        } else if (history[a.txn]!.outcome === 'fail') {
          const w = history[a.txn]!;
          sink.add(() => ({ type: 'G1a', txns: [reader, w], key: facts.name, message: `T${reader.id} read ${v} in ${facts.name}, appended by T${w.id}, which failed (aborted read)` }), 'G1a');
        }
      }
      if (list.length === 0) continue;
      const last = facts.appends.get(list[list.length - 1]!);
      if (last !== undefined && last.txn !== read.txn && !last.final && history[last.txn]!.outcome !== 'fail') {
        const w = history[last.txn]!;
        sink.add(() => ({ type: 'G1b', txns: [reader, w], key: facts.name, message: `T${reader.id} read ${show(list)} of ${facts.name}, ending in ${list[list.length - 1]}, which T${w.id} followed with another append to ${facts.name} (intermediate read)` }), 'G1b');
      }
    }
  }
}

/** An ok append no read saw, though a read of its key began after it completed. */
function checkLost(history: readonly Txn[], keys: KeyFacts[], reads: readonly Read[], sink: AnomalySink): void {
  for (const facts of keys) {
    let lastRead = -1;
    let latest = Number.NEGATIVE_INFINITY;
    for (const r of facts.reads) {
      const at = history[reads[r]!.txn]!.invokedAt;
      if (at > latest) {
        latest = at;
        lastRead = r;
      }
    }
    if (lastRead < 0) continue;
    for (const [v, a] of facts.appends) {
      const w = history[a.txn]!;
      if (a.observed || w.outcome !== 'ok' || !(w.completedAt < latest)) continue;
      const reader = history[reads[lastRead]!.txn]!;
      sink.add(() => ({ type: 'lost', txns: [w, reader], key: facts.name, message: `T${w.id} appended ${v} to ${facts.name} and completed, yet T${reader.id}, begun later, read ${show(reads[lastRead]!.list)}, and no read saw it` }), 'lost');
    }
  }
}

/** `realtime`: whether real-time order counts (strict serializability), which `lost` rests on. */
export function observe(history: readonly Txn[], sink: AnomalySink, realtime: boolean): Observations {
  const { keys, reads } = index(history, sink);
  orderKeys(history, keys, reads, sink);
  checkReads(history, keys, reads, sink);
  if (realtime) checkLost(history, keys, reads, sink);
  const committed = new Uint8Array(history.length);
  for (let t = 0; t < history.length; t++) if (history[t]!.outcome === 'ok') committed[t] = 1;
  for (const facts of keys) {
    for (const a of facts.appends.values()) if (a.observed && history[a.txn]!.outcome === 'unknown') committed[a.txn] = 1;
  }
  return { keys, reads, committed, anomalies: sink.list };
}
