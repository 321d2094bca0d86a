/**
 * The fuzz suites' budget and seeds. `npm test` runs every fuzz file at budget 1 (each well
 * under 30 s on a 2-core machine); `npm run fuzz` raises QUORATE_FUZZ_BUDGET (scripts/fuzz.mjs)
 * to multiply every iteration count. Seeds are fixed by default so a failure reproduces;
 * QUORATE_FUZZ_SEED moves the first one. Iteration k of a suite uses seed base + k, and a failure
 * names that seed, so `QUORATE_FUZZ_SEED=<it>` replays the failing case first.
 */

/** Iteration counts are multiplied by this (QUORATE_FUZZ_BUDGET; default 1, as in `npm test`). */
export const DEFAULT_FUZZ_BUDGET = 1;
/** The first seed when QUORATE_FUZZ_SEED is not set. */
export const DEFAULT_FUZZ_SEED = 1;

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return n;
}

export const FUZZ_BUDGET = positiveNumber('QUORATE_FUZZ_BUDGET', DEFAULT_FUZZ_BUDGET);
export const FUZZ_SEED = Math.floor(positiveNumber('QUORATE_FUZZ_SEED', DEFAULT_FUZZ_SEED));

/** `base` iterations scaled by the budget (at least one). */
export function iterations(base: number): number {
  return Math.max(1, Math.round(base * FUZZ_BUDGET));
}

/** The seed of iteration `k` of a suite whose seeds start at `offset` past the base seed. */
export function seedOf(k: number, offset = 0): number {
  return FUZZ_SEED + offset + k;
}

/** Run `body`; on failure, rethrow with the seed that reproduces it in front of the message. */
export async function withSeed<T>(seed: number, what: string, body: () => T | Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw reproducible(err, seed, what);
  }
}

/**
 * The synchronous form of withSeed. `offset`: the one seedOf was given, so that the hint names the
 * QUORATE_FUZZ_SEED that makes this case the first of its suite part (seed - offset).
 */
export function withSeedSync<T>(seed: number, what: string, body: () => T, offset = 0): T {
  try {
    return body();
  } catch (err) {
    throw reproducible(err, seed, what, offset);
  }
}

function reproducible(err: unknown, seed: number, what: string, offset = 0): unknown {
  const note = `[fuzz ${what}: seed ${seed}; rerun with QUORATE_FUZZ_SEED=${seed - offset}] `;
  if (err instanceof Error) {
    err.message = note + err.message;
    return err;
  }
  return new Error(note + String(err));
}

/** Counts by label, printed at the end of a fuzz file so a run's numbers can be pasted. */
export class Counts {
  private readonly counts = new Map<string, number>();
  add(label: string, n = 1): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + n);
  }
  get(label: string): number {
    return this.counts.get(label) ?? 0;
  }
  /** One line per label, sorted, under a title. */
  report(title: string): string {
    const rows = [...this.counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `  ${k}: ${v}`);
    return `${title} (budget ${FUZZ_BUDGET}, seed ${FUZZ_SEED})\n${rows.join('\n')}`;
  }
}
