/**
 * Seeded pseudo-random numbers (xoshiro128**, seeded through splitmix32). Protocol cores get
 * randomness only through this, injected by their driver, so a seed reproduces a run exactly.
 * Not for cryptography.
 */
import { assert } from './assert.js';

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [state, z >>> 0];
}

export interface Random {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** Fisher-Yates shuffle, in place; returns the array. */
  shuffle<T>(items: T[]): T[];
  /** An independent stream derived from this one (for giving each node its own source). */
  fork(): Random;
}

export class Prng implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    assert(Number.isFinite(seed), 'prng seed is finite');
    let s = (Math.floor(seed) ^ 0x5bd1e995) | 0;
    let out: number;
    [s, out] = splitmix32(s); this.a = out | 0;
    [s, out] = splitmix32(s); this.b = out | 0;
    [s, out] = splitmix32(s); this.c = out | 0;
    [s, out] = splitmix32(s); this.d = out | 0;
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // all-zero state is a fixed point
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result >>> 0;
  }

  float(): number {
    return this.nextUint32() / 4294967296;
  }

  int(min: number, max: number): number {
    const ok = Number.isInteger(min) && Number.isInteger(max) && min <= max;
    // The message is built only when it is needed (int() runs for most of the simulator's choices).
    assert(ok, ok ? '' : `int range [${min}, ${max}]`);
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from a non-empty array');
    return items[this.int(0, items.length - 1)] as T;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  fork(): Random {
    return new Prng(this.nextUint32() ^ (this.nextUint32() << 1));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
