/**
 * Linearizability checking for registers and key-value maps: the Wing-Gong-Lowe search (Lowe,
 * "Testing for linearizability", 2017) with memoisation of (linearized set, state) pairs, run
 * independently per key (P-compositionality: a history of independent objects is linearizable
 * iff each object's sub-history is; Horn & Kroening 2015).
 *
 * Outcomes: `fail` reads/writes/deletes did not happen and are dropped; a `fail` cas happened as
 * a no-op whose compare was false; `unknown` operations end at +Infinity, so the search may put
 * them anywhere after their invocation — including after everything, which is "never".
 */
import type { Operation, Value, Verdict } from './history.js';

export interface CheckOptions {
  /** Search steps per key before giving up with 'unknown'. */
  readonly maxSteps?: number;
  /** Wall-clock budget for the whole history, in ms (0: none). */
  readonly timeoutMs?: number;
}

export const DEFAULT_MAX_STEPS = 10_000_000;

export interface CheckResult {
  readonly verdict: Verdict;
  /** The key whose sub-history decided the verdict (kv model). */
  readonly key?: string;
  /** For 'not-linearizable': a small window of operations that cannot be linearized. */
  readonly window?: readonly Operation[];
  readonly steps: number;
  readonly keys: number;
  readonly operations: number;
}

interface Entry {
  readonly isCall: boolean;
  readonly op: number;
  readonly time: number;
  match: Entry | null; // call → its return
  prev: Entry | null;
  next: Entry | null;
}

type State = Value;

/** Apply `op` to `state`: the new state, or undefined if the op cannot take effect here. */
function step(state: State, op: Operation): State | undefined {
  switch (op.kind) {
    case 'read':
      return op.result === state ? state : undefined;
    case 'write':
      return op.value ?? null;
    case 'delete':
      return null;
    case 'cas':
      if (op.outcome === 'ok') return state === (op.expected ?? null) ? (op.value ?? null) : undefined;
      if (op.outcome === 'fail') return state !== (op.expected ?? null) ? state : undefined;
      return state === (op.expected ?? null) ? (op.value ?? null) : state; // unknown: whatever it did
  }
}

/** Drop operations that impose no constraint; the rest, in a form the search uses. */
function relevant(ops: readonly Operation[]): Operation[] {
  return ops.filter((op) => {
    if (op.kind === 'read') return op.outcome === 'ok';
    if (op.outcome === 'fail') return op.kind === 'cas';
    return true;
  });
}

/**
 * Two states are the same memo state when they would print the same (as "n", "i<number>" or
 * "s<string>" did): the same value, or two NaNs (0 and -0 print alike, and are ===).
 */
function sameState(a: State, b: State): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && a !== a && b !== b);
}

/**
 * The (linearized set, state) pairs the search has seen. A state is kept as it is, not as a key
 * string: building one per search step was most of the cache's garbage.
 */
class Cache {
  private readonly buckets = new Map<number, { bits: Uint32Array; state: State }[]>();

  /** Adds (bits, state); false if it was already there. */
  add(bits: Uint32Array, state: State): boolean {
    let h = 0x811c9dc5;
    for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i]!, 0x01000193);
    h = Math.imul(h ^ stateHash(state), 0x01000193);
    const bucket = this.buckets.get(h);
    if (bucket === undefined) {
      this.buckets.set(h, [{ bits: bits.slice(), state }]);
      return true;
    }
    for (const b of bucket) if (sameState(b.state, state) && equalBits(b.bits, bits)) return false;
    bucket.push({ bits: bits.slice(), state });
    return true;
  }
}

/** A hash of a state, equal for states sameState calls the same (0 and -0; every NaN). */
function stateHash(s: State): number {
  if (s === null) return 1;
  if (typeof s === 'number') return Number.isInteger(s) ? (s | 0) ^ Math.floor(s / 0x1_0000_0000) ^ 2 : 3;
  let h = 5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

function equalBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type KeyVerdict = { verdict: Verdict; steps: number; window?: Operation[] };

/** The WGL search over one object's history. */
function checkObject(ops: Operation[], maxSteps: number, deadline: number): KeyVerdict {
  const n = ops.length;
  if (n === 0) return { verdict: 'linearizable', steps: 0 };
  // Events: calls before returns at equal times (such operations overlap).
  const events: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    const call: Entry = { isCall: true, op: i, time: op.invokedAt, match: null, prev: null, next: null };
    const ret: Entry = { isCall: false, op: i, time: op.completedAt, match: null, prev: null, next: null };
    call.match = ret;
    events.push(call, ret);
  }
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Entry = { isCall: false, op: -1, time: -Infinity, match: null, prev: null, next: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (call: Entry) => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Entry) => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  const bits = new Uint32Array(Math.ceil(n / 32));
  const cache = new Cache();
  const stack: { call: Entry; state: State }[] = [];
  let state: State = null;
  let entry = head.next;
  let steps = 0;
  let deepest = 0;
  let stuckAt = -1;
  while (head.next !== null) {
    if (++steps > maxSteps || (deadline > 0 && (steps & 0xffff) === 0 && Date.now() > deadline)) {
      return { verdict: 'unknown', steps };
    }
    if (entry === null) break; // cannot happen: a return always ends the scan
    if (entry.isCall) {
      const op = ops[entry.op]!;
      const next = step(state, op);
      if (next !== undefined) {
        bits[entry.op >> 5]! |= 1 << (entry.op & 31);
        if (cache.add(bits, next)) {
          stack.push({ call: entry, state });
          state = next;
          lift(entry);
          if (stack.length > deepest) {
            deepest = stack.length;
            stuckAt = -1;
          }
          entry = head.next;
          continue;
        }
        bits[entry.op >> 5]! &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
    } else {
      // A return whose operation is not linearized yet: nothing before it can go first.
      if (stack.length === deepest && stuckAt < 0) stuckAt = entry.op;
      const top = stack.pop();
      if (top === undefined) return { verdict: 'not-linearizable', steps, window: windowAround(ops, stuckAt < 0 ? entry.op : stuckAt) };
      state = top.state;
      bits[top.call.op >> 5]! &= ~(1 << (top.call.op & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { verdict: 'linearizable', steps };
}

/** The operations overlapping the one that could not be placed, plus the last one before them. */
function windowAround(ops: readonly Operation[], stuck: number): Operation[] {
  const x = ops[stuck]!;
  const end = Number.isFinite(x.completedAt) ? x.completedAt : x.invokedAt;
  const overlapping = ops.filter((o) => o.invokedAt <= end && o.completedAt >= x.invokedAt);
  const before = ops.filter((o) => o.completedAt < x.invokedAt && o.kind !== 'read').sort((a, b) => b.completedAt - a.completedAt)[0];
  const window = before === undefined ? overlapping : [before, ...overlapping];
  return window.sort((a, b) => a.invokedAt - b.invokedAt || a.id - b.id);
}

const RANK: Record<Verdict, number> = { linearizable: 0, unknown: 1, 'not-linearizable': 2 };

export function checkHistory(ops: readonly Operation[], model: 'register' | 'kv', options: CheckOptions = {}): CheckResult {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const deadline = options.timeoutMs !== undefined && options.timeoutMs > 0 ? Date.now() + options.timeoutMs : 0;
  const byKey = new Map<string, Operation[]>();
  for (const op of relevant(ops)) {
    const key = model === 'register' ? '' : op.key;
    let list = byKey.get(key);
    if (list === undefined) byKey.set(key, (list = []));
    list.push(op);
  }
  let worst: { key: string; r: KeyVerdict } | null = null;
  let steps = 0;
  for (const [key, list] of byKey) {
    const r = checkObject(list, maxSteps, deadline);
    steps += r.steps;
    if (worst === null || RANK[r.verdict] > RANK[worst.r.verdict]) worst = { key, r };
    if (r.verdict === 'not-linearizable') break;
  }
  return {
    verdict: worst?.r.verdict ?? 'linearizable',
    ...(worst !== null && worst.r.verdict !== 'linearizable' && model === 'kv' ? { key: worst.key } : {}),
    ...(worst?.r.window !== undefined ? { window: worst.r.window } : {}),
    steps,
    keys: byKey.size,
    operations: ops.length,
  };
}

export function formatOperation(op: Operation): string {
  const v = (x: Value | undefined) => (x === undefined || x === null ? 'nil' : String(x));
  const what =
    op.kind === 'read' ? `read → ${op.outcome === 'ok' ? v(op.result) : '?'}`
    : op.kind === 'write' ? `write ${v(op.value)}`
    : op.kind === 'cas' ? `cas ${v(op.expected)}→${v(op.value)}`
    : 'delete';
  const end = Number.isFinite(op.completedAt) ? String(op.completedAt) : '∞';
  return `  client ${op.client}${op.key === '' ? '' : ` key ${op.key}`}: ${what} [${op.outcome}] from ${op.invokedAt} to ${end}`;
}

export function formatWindow(result: CheckResult): string {
  if (result.window === undefined) return '';
  return [`no linearization of these operations${result.key !== undefined ? ` on key ${result.key}` : ''}:`, ...result.window.map(formatOperation)].join('\n');
}
