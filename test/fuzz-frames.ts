/**
 * Seeded fuzz inputs for the message validators: random values of every shape MessagePack can
 * carry, and valid messages with one field broken (its type changed, its range left, or the field
 * removed). A broken field is always one the schema constrains, so every mutated input is invalid
 * by construction: a validator that accepts one has a hole.
 */
import type { Random } from '../src/core/prng.js';

/** Paths never mutated: fields whose value is free (a forwarded result is the state machine's). */
const FREE_FIELDS = new Set(['result']);

/** Fields the schema allows to be absent: removing them leaves a valid message. */
// (`digest`: a Multi-Paxos snapshot chunk's is optional, for builds before it; PBFT's are only broken, never removed.)
const OPTIONAL_FIELDS = new Set(['gap', 'retransmitted', 'acceptedBallot', 'index', 'error', 'nonce', 'digest']);
/** Fields whose null is a value of their own (PBFT's FETCH-STATE `part`: null asks for the STATE-META): null breaks nothing there. */
const NULLABLE_FIELDS = new Set(['part']);

/** A random value: null, booleans, numbers of every awkward kind, strings, bytes, arrays, maps. */
export function randomValue(r: Random, depth = 0): unknown {
  const roll = r.int(0, depth > 2 ? 5 : 8);
  switch (roll) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, 1, -1, 1.5, Number.NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, Number.MAX_SAFE_INTEGER, r.int(0, 1000)]);
    case 3: return r.pick(['', '7', 'n1', 'append', 'x'.repeat(r.int(0, 600)), '__proto__', 'heartbeat', 'commit']);
    case 4: return new Uint8Array(r.int(0, 16)).fill(r.int(0, 255));
    case 5: return undefined;
    case 6: return Array.from({ length: r.int(0, 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const keys = ['type', 'kind', 'from', 'to', 'term', 'entries', 'message', 'ballot', 'view', 'seq', 'macs', 'x'];
      for (let i = r.int(0, 5); i > 0; i--) o[r.pick(keys)] = randomValue(r, depth + 1);
      return o;
    }
  }
}

/** Every path to a constrained field of `v` (object keys and array positions). */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push([...prefix, i]);
      paths(x, [...prefix, i], out);
    });
  } else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (FREE_FIELDS.has(k) || x === undefined) continue;
      out.push([...prefix, k]);
      paths(x, [...prefix, k], out);
    }
  }
  return out;
}

/** A value of another kind than `old` that no schema field of `old`'s kind accepts. */
function breaking(r: Random, old: unknown, nullable: boolean): unknown {
  if (typeof old === 'number') return r.pick<unknown>([String(old), -1, 1.5, Number.NaN, 2 ** 60, Infinity, nullable ? 'null' : null, {}, [old], true]);
  if (typeof old === 'string') return r.pick<unknown>([7, null, {}, [old], new Uint8Array(1), true, 'x'.repeat(5000)]);
  if (typeof old === 'boolean') return r.pick<unknown>([0, 1, 'true', null, {}, []]);
  if (old instanceof Uint8Array) return r.pick<unknown>(['bytes', [1, 2], 0, {}, true]);
  if (Array.isArray(old)) return r.pick<unknown>([{}, 'list', 3, true, new Uint8Array(2)]);
  if (old === null) return r.pick<unknown>([7, true, [], new Uint8Array(1)]);
  return r.pick<unknown>([7, 'obj', true, [old], new Uint8Array(2)]);
}

function clone(v: unknown): unknown {
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) return v.map(clone);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}

/**
 * `valid` with one constrained field broken (below `under`, a path prefix, if given): its value
 * replaced by one of another kind, or (a required field) removed, or its message type unknown.
 */
export function mutateValid(r: Random, valid: unknown, under: (string | number)[] = []): unknown {
  const copy = clone(valid);
  let base: unknown = copy;
  for (const k of under) base = (base as Record<string | number, unknown>)[k];
  const all = paths(base);
  // Now and then the message's (or the frame's) type itself.
  const typeKey = typeof base === 'object' && base !== null && 'kind' in base ? 'kind' : 'type';
  const path = all.length === 0 || r.chance(0.05) ? [typeKey] : r.pick(all);
  let parent = base as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  const old = parent[key];
  if (key === 'type' || key === 'kind') parent[key] = r.pick(['no-such-type', 7, null, '']);
  // A MAC vector may name any receivers: removing one of its entries leaves it valid.
  else if (typeof key === 'string' && !OPTIONAL_FIELDS.has(key) && !path.includes('macs') && r.chance(0.2)) delete parent[key];
  else parent[key] = breaking(r, old, typeof key === 'string' && NULLABLE_FIELDS.has(key));
  return copy;
}
