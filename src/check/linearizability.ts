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
  /** Bytes the memo of one key's search may take before giving up with 'unknown'. */
  readonly maxMemoBytes?: number;
  /** Keep what explains the verdict (CheckResult.explanation): the longest linearization found. */
  readonly explain?: boolean;
}

/**
 * What explains a verdict, for one key (the one that decided it; for a linearizable kv history,
 * the key with the most operations): its operations the search judged, and the longest order of
 * them it could linearize with the state after each (all of them, when linearizable). For a
 * history that is not linearizable, `stuck` is the operation that could not be placed next.
 */
export interface Explanation {
  readonly key: string;
  readonly operations: readonly Operation[];
  readonly linearized: readonly { readonly op: Operation; readonly stateAfter: Value }[];
  readonly stuck?: Operation;
}

export const DEFAULT_MAX_STEPS = 10_000_000;

/**
 * The memo keeps a copy of the linearized set per configuration: (1 + n/32) words for n ops of
 * a key, so the step budget alone bounds it only at steps × n/8 bytes (10 million steps over a
 * 20,000-op register: tens of GB, and the process is killed rather than answering). Past this
 * the verdict is 'unknown', as when the steps run out.
 */
export const DEFAULT_MAX_MEMO_BYTES = 1 << 30;

export interface CheckResult {
  readonly verdict: Verdict;
  /** The key whose sub-history decided the verdict (kv model). */
  readonly key?: string;
  /** For 'not-linearizable': a small window of operations that cannot be linearized. */
  readonly window?: readonly Operation[];
  readonly steps: number;
  readonly keys: number;
  readonly operations: number;
  /** With CheckOptions.explain. */
  readonly explanation?: Explanation;
}

/** Drop operations that impose no constraint; the rest, in a form the search uses. */
function relevant(ops: readonly Operation[]): Operation[] {
  return ops.filter((op) => {
    if (op.kind === 'read') return op.outcome === 'ok';
    if (op.outcome === 'fail') return op.kind === 'cas';
    return true;
  });
}

type KeyVerdict = { verdict: Verdict; steps: number; window?: Operation[]; longest?: Longest };

/** The longest linearization a search found: ops (indexes into its list) and the state after each. */
interface Longest {
  readonly ops: Int32Array;
  readonly states: Value[];
  readonly stuck: number;
}

/*
 * How a call changes the (numbered) state. Plain numbers, not an enum: under this build's
 * settings (verbatimModuleSyntax) a const enum stays an object read on every step.
 */
/** read: allowed only in the state it returned. */
const READ = 0;
/** write or delete: sets the state. */
const SET = 1;
/** cas that succeeded: allowed only in the expected state, then sets the new value. */
const CAS_OK = 2;
/** cas whose compare failed: allowed only outside the expected state, changes nothing. */
const CAS_FAIL = 3;
/** cas with an unknown outcome: sets the new value if the state is the expected one. */
const CAS_UNKNOWN = 4;

/** Search steps between two reads of the clock for the wall-clock budget (a read costs more than a step). */
const CLOCK_EVERY_STEPS = 0x10000;

/** What Cache.add did. */
const SEEN = 0;
const ADDED = 1;
const FULL = 2;

/** No entry (an end of the event list, an empty cache slot). */
const NONE = -1;

/** 32-bit finaliser of MurmurHash3: spreads small integers (op and state numbers) over all bits. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}

/**
 * The (linearized set, state) pairs the search has seen, in flat typed arrays: an open-addressing
 * table whose slots hold an entry's number and hash side by side, and the entries, each its state
 * number followed by its set's words, in the order they were added. No object per entry and no
 * copy of the set as an array of its own: at millions of steps per history, the allocation and
 * the collector were most of the checker's time. What a step costs now is the trips to memory
 * on a long search, whose table outgrows the processor's caches: a probe reads one slot (a
 * slot whose hash differs costs nothing more), a repeat then one entry, usually a recent one.
 *
 * The hash of a set is kept by the caller as the XOR of one fixed random-looking word per
 * linearized op (Zobrist hashing), updated in O(1) when an op is linearized or taken back.
 */
class Cache {
  /** Per slot: 1 + the entry's number (0: an empty slot), then the entry's hash. */
  private slots: Int32Array;
  private mask: number;
  /** Per entry, `stride` words: its state number, then its set. */
  private entries: Int32Array;
  private readonly stride: number;
  private size = 0;

  /** maxWords: the words of both arrays together past which `add` refuses to grow them. */
  constructor(private readonly width: number, private readonly maxWords: number) {
    this.stride = width + 1;
    const slots = 2048;
    this.slots = new Int32Array(slots * 2);
    this.mask = slots - 1;
    this.entries = new Int32Array((slots / 2) * this.stride);
  }

  /**
   * Adds (bits, state), whose set hashes to setHash: ADDED, SEEN if it was already there, or FULL
   * if holding it would take the memo past its limit.
   */
  add(bits: Int32Array, setHash: number, state: number): number {
    const h = mix32(setHash ^ Math.imul(state + 1, 0x9e3779b1));
    const slots = this.slots;
    const width = this.width;
    let slot = h & this.mask;
    for (;;) {
      const tag = slots[2 * slot]!;
      if (tag === 0) break;
      if (slots[2 * slot + 1] === h) {
        const at = (tag - 1) * this.stride;
        const entries = this.entries;
        if (entries[at] === state) {
          let same = true;
          for (let i = 0; i < width; i++) {
            if (entries[at + 1 + i] !== bits[i]) {
              same = false;
              break;
            }
          }
          if (same) return SEEN;
        }
      }
      slot = (slot + 1) & this.mask;
    }
    const e = this.size;
    let at = e * this.stride;
    const growSlots = (e + 1) * 2 > this.mask + 1;
    if ((at === this.entries.length || growSlots) && this.words(at === this.entries.length, growSlots) > this.maxWords) return FULL;
    this.size++;
    if (at === this.entries.length) {
      const entries = new Int32Array(this.entries.length * 2);
      entries.set(this.entries);
      this.entries = entries;
    }
    const entries = this.entries;
    entries[at++] = state;
    for (let i = 0; i < width; i++) entries[at + i] = bits[i]!;
    slots[2 * slot] = e + 1;
    slots[2 * slot + 1] = h;
    if (growSlots) this.rehash();
    return ADDED;
  }

  /** The words both arrays take once the entries (growEntries) or the slots (growSlots) double. */
  private words(growEntries: boolean, growSlots: boolean): number {
    return this.entries.length * (growEntries ? 2 : 1) + this.slots.length * (growSlots ? 2 : 1);
  }

  /** A table twice as large (load at most a half), every entry placed again. */
  private rehash(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = slots.length / 2 - 1;
    for (let s = 0; s < old.length; s += 2) {
      const tag = old[s]!;
      if (tag === 0) continue;
      const h = old[s + 1]!;
      let slot = h & mask;
      while (slots[2 * slot] !== 0) slot = (slot + 1) & mask;
      slots[2 * slot] = tag;
      slots[2 * slot + 1] = h;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/**
 * The WGL search over one object's history.
 *
 * States are numbered: every value the history mentions gets a number (null is 0), so a step
 * compares and stores small integers. Values are numbered as a Map keys them (SameValueZero: 0
 * and -0 are one state, and so is every NaN, as the memo always had them); a NaN still equals
 * nothing in a step, as `===` had it, so a read of NaN is never allowed and a cas expecting NaN
 * never matches. Events are a doubly linked list over arrays of event numbers, and the stack of
 * linearized calls two arrays: the loop allocates nothing.
 */
function checkObject(ops: Operation[], maxSteps: number, deadline: number, maxMemoBytes: number, explain: boolean): KeyVerdict {
  const n = ops.length;
  if (n === 0) return { verdict: 'linearizable', steps: 0, ...(explain ? { longest: { ops: new Int32Array(0), states: [], stuck: NONE } } : {}) };

  const numbers = new Map<Value, number>();
  let nan = NONE;
  const number = (v: Value | undefined): number => {
    const value = v ?? null;
    let id = numbers.get(value);
    if (id === undefined) {
      id = numbers.size;
      numbers.set(value, id);
      if (typeof value === 'number' && value !== value) nan = id;
    }
    return id;
  };
  number(null); // the initial state is 0
  const effect = new Uint8Array(n);
  const arg = new Int32Array(n); // read: the result; cas: the expected value
  const set = new Int32Array(n); // write, cas: the new value (delete: null)
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    switch (op.kind) {
      case 'read':
        effect[i] = READ;
        arg[i] = number(op.result);
        break;
      case 'write':
        effect[i] = SET;
        set[i] = number(op.value);
        break;
      case 'delete':
        effect[i] = SET;
        set[i] = 0;
        break;
      case 'cas':
        effect[i] = op.outcome === 'ok' ? CAS_OK : op.outcome === 'fail' ? CAS_FAIL : CAS_UNKNOWN;
        arg[i] = number(op.expected);
        set[i] = number(op.value);
        break;
    }
  }

  // Events: calls before returns at equal times (such operations overlap). Event e is op e >> 1,
  // its call if e is even; list node e + 1, node 0 the head.
  const order = new Int32Array(2 * n);
  for (let e = 0; e < 2 * n; e++) order[e] = e;
  const time = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    time[2 * i] = ops[i]!.invokedAt;
    time[2 * i + 1] = ops[i]!.completedAt;
  }
  const sorted = Array.from(order).sort((a, b) => time[a]! - time[b]! || ((a & 1) === (b & 1) ? (a >> 1) - (b >> 1) : (a & 1) === 0 ? -1 : 1));
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  let last = 0;
  for (const e of sorted) {
    next[last] = e + 1;
    prev[e + 1] = last;
    last = e + 1;
  }
  next[last] = NONE;
  // Nodes of op i: call 2i + 1, return 2i + 2.
  const lift = (call: number): void => {
    const ret = call + 1;
    next[prev[call]!] = next[call]!;
    if (next[call] !== NONE) prev[next[call]!] = prev[call]!;
    next[prev[ret]!] = next[ret]!;
    if (next[ret] !== NONE) prev[next[ret]!] = prev[ret]!;
  };
  const unlift = (call: number): void => {
    const ret = call + 1;
    next[prev[ret]!] = ret;
    if (next[ret] !== NONE) prev[next[ret]!] = ret;
    next[prev[call]!] = call;
    if (next[call] !== NONE) prev[next[call]!] = call;
  };

  const zobrist = new Int32Array(n);
  for (let i = 0; i < n; i++) zobrist[i] = mix32(Math.imul(i + 1, 0x9e3779b1));
  const bits = new Int32Array(Math.ceil(n / 32));
  const cache = new Cache(bits.length, Math.floor(maxMemoBytes / Int32Array.BYTES_PER_ELEMENT));
  let setHash = 0;
  const stackOp = new Int32Array(n);
  const stackState = new Int32Array(n);
  const stackNoOp = new Uint8Array(n);
  let depth = 0;
  let steps = 0;
  /**
   * Where the scan of a new configuration starts: at a no-op that fits in it (an ok read of the
   * state, a failed cas expecting another value) if one can go now, since then the
   * configuration has a linearization if and only if one starts with that op (see below), and
   * trying anything else first is wasted; else at the first event.
   */
  const noOpFirst = (): number => {
    for (let at = next[0]!; at !== NONE && (at & 1) === 1; at = next[at]!) {
      steps++;
      const o = (at - 1) >> 1;
      const e = effect[o];
      if (e === READ ? state === arg[o] && state !== nan : e === CAS_FAIL && (state !== arg[o] || state === nan)) return at;
    }
    return next[0]!;
  };
  let state = 0;
  let node = noOpFirst();
  let deepest = 0;
  // The longest linearization, kept (when asked) as the search leaves its deepest configuration,
  // in arrays of its own: only the part of the stack that changed since the last keep is copied
  // (the search backs off to `changedFrom` at least), so keeping costs what the search did.
  const keptOps = explain ? new Int32Array(n) : new Int32Array(0);
  const keptAfter = explain ? new Int32Array(n) : new Int32Array(0);
  let keptLength = 0;
  let changedFrom = 0;
  let keptDeepest = true;
  const keepDeepest = (): void => {
    if (!explain || keptDeepest || depth !== deepest) return;
    keptDeepest = true;
    for (let k = changedFrom; k < depth; k++) {
      keptOps[k] = stackOp[k]!;
      keptAfter[k] = k + 1 < depth ? stackState[k + 1]! : state;
    }
    keptLength = depth;
    changedFrom = depth;
  };
  const valueOf = (): Value[] => {
    const values: Value[] = [];
    for (const [v, id] of numbers) values[id] = v;
    return values;
  };
  const longest = (stuck: number): Longest => {
    keepDeepest();
    const values = valueOf();
    return { ops: keptOps.slice(0, keptLength), states: Array.from(keptAfter.subarray(0, keptLength), (x) => values[x]!), stuck };
  };
  let stuckAt = -1;
  // The clock is read once per CLOCK_EVERY_STEPS steps. A counter of its own, not a test of
  // `steps` against a multiple: noOpFirst adds a step per call it passes, so `steps` jumps over
  // most multiples and the deadline was read a half to a tenth as often as meant.
  let clockAt = steps + CLOCK_EVERY_STEPS;
  while (next[0] !== NONE) {
    if (++steps > maxSteps) return { verdict: 'unknown', steps, ...(explain ? { longest: longest(NONE) } : {}) };
    if (deadline > 0 && steps >= clockAt) {
      clockAt = steps + CLOCK_EVERY_STEPS;
      if (Date.now() > deadline) return { verdict: 'unknown', steps, ...(explain ? { longest: longest(NONE) } : {}) };
    }
    if (node === NONE) break; // cannot happen: a return always ends the scan
    const op = (node - 1) >> 1;
    let stuck = false;
    if ((node & 1) === 1) {
      // A call: can op take effect in this state?
      let after = NONE;
      switch (effect[op]) {
        case READ:
          if (state === arg[op] && state !== nan) after = state;
          break;
        case SET:
          after = set[op]!;
          break;
        case CAS_OK:
          if (state === arg[op] && state !== nan) after = set[op]!;
          break;
        case CAS_FAIL:
          if (state !== arg[op] || state === nan) after = state;
          break;
        default:
          after = state === arg[op] && state !== nan ? set[op]! : state;
      }
      if (after !== NONE) {
        bits[op >> 5]! |= 1 << (op & 31);
        setHash ^= zobrist[op]!;
        const noOp = effect[op] === READ || effect[op] === CAS_FAIL;
        const added = cache.add(bits, setHash, after);
        if (added === FULL) return { verdict: 'unknown', steps, ...(explain ? { longest: longest(NONE) } : {}) };
        if (added === ADDED) {
          stackOp[depth] = op;
          stackState[depth] = state;
          stackNoOp[depth] = noOp ? 1 : 0;
          depth++;
          state = after;
          lift(node);
          if (depth > deepest) {
            deepest = depth;
            stuckAt = -1;
            keptDeepest = false;
          }
          node = noOpFirst();
          continue;
        }
        bits[op >> 5]! &= ~(1 << (op & 31));
        setHash ^= zobrist[op]!;
        // Seen before, so it failed; a no-op that fits now fits first (see below): this fails too.
        if (noOp) stuck = true;
      }
      if (!stuck) {
        node = next[node]!;
        continue;
      }
    } else {
      // A return whose operation is not linearized yet: nothing before it can go first.
      if (depth === deepest && stuckAt < 0) stuckAt = op;
    }
    // This configuration has no linearization: take back the last op and try the next call
    // after it. A no-op taken back (an ok read, a failed cas) says more: if any linearization
    // followed its configuration, one would start with it (it changes nothing, it fitted there,
    // and every op that must precede it was already linearized), so that configuration has
    // none either, and the op before it is taken back too.
    keepDeepest();
    for (;;) {
      if (depth === 0) {
        const stuckOp = stuckAt < 0 ? op : stuckAt;
        return { verdict: 'not-linearizable', steps, window: windowAround(ops, stuckOp), ...(explain ? { longest: longest(stuckOp) } : {}) };
      }
      depth--;
      if (depth < changedFrom) changedFrom = depth;
      const top = stackOp[depth]!;
      state = stackState[depth]!;
      bits[top >> 5]! &= ~(1 << (top & 31));
      setHash ^= zobrist[top]!;
      const call = 2 * top + 1;
      unlift(call);
      node = next[call]!;
      if (stackNoOp[depth] === 0) break;
    }
  }
  return { verdict: 'linearizable', steps, ...(explain ? { longest: longest(NONE) } : {}) };
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
  const maxMemoBytes = options.maxMemoBytes ?? DEFAULT_MAX_MEMO_BYTES;
  const deadline = options.timeoutMs !== undefined && options.timeoutMs > 0 ? Date.now() + options.timeoutMs : 0;
  const byKey = new Map<string, Operation[]>();
  for (const op of relevant(ops)) {
    const key = model === 'register' ? '' : op.key;
    let list = byKey.get(key);
    if (list === undefined) byKey.set(key, (list = []));
    list.push(op);
  }
  const explain = options.explain === true;
  let worst: { key: string; r: KeyVerdict; ops: Operation[] } | null = null;
  // The key drawn: the worst's, and among keys as bad the one with the most operations.
  let explained: { key: string; r: KeyVerdict; ops: Operation[] } | null = null;
  let steps = 0;
  for (const [key, list] of byKey) {
    const r = checkObject(list, maxSteps, deadline, maxMemoBytes, explain);
    steps += r.steps;
    if (worst === null || RANK[r.verdict] > RANK[worst.r.verdict]) worst = { key, r, ops: list };
    if (explain && (explained === null || RANK[r.verdict] > RANK[explained.r.verdict] || (RANK[r.verdict] === RANK[explained.r.verdict] && list.length > explained.ops.length))) explained = { key, r, ops: list };
    if (r.verdict === 'not-linearizable') break;
  }
  return {
    verdict: worst?.r.verdict ?? 'linearizable',
    ...(worst !== null && worst.r.verdict !== 'linearizable' && model === 'kv' ? { key: worst.key } : {}),
    ...(worst?.r.window !== undefined ? { window: worst.r.window } : {}),
    steps,
    keys: byKey.size,
    operations: ops.length,
    ...(explain ? { explanation: explanationOf(explained?.key ?? '', explained?.ops ?? [], explained?.r.longest) } : {}),
  };
}

function explanationOf(key: string, ops: readonly Operation[], longest: Longest | undefined): Explanation {
  const linearized = longest === undefined ? [] : Array.from(longest.ops, (i, k) => ({ op: ops[i]!, stateAfter: longest.states[k]! }));
  return { key, operations: ops, linearized, ...(longest !== undefined && longest.stuck !== NONE ? { stuck: ops[longest.stuck]! } : {}) };
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
