/**
 * Checker speed on generated histories.
 *   npm run build && node dist/bench/checker.js
 */
import { checkHistory, type Operation } from '../src/check/index.js';
import { Prng } from '../src/core/prng.js';

/**
 * A history from a true atomic KV: each operation takes effect at one instant inside its
 * [invoke, complete] window; some completions are lost (unknown outcome).
 */
function generate(seed: number, ops: number, clients: number, keys: number, unknownRate: number, casRate: number): Operation[] {
  const rng = new Prng(seed);
  const values = new Map<string, number | null>();
  const planned: { client: number; start: number; effect: number; end: number }[] = [];
  const free = new Array<number>(clients).fill(0);
  let t = 0;
  for (let i = 0; i < ops; i++) {
    t += rng.int(0, 3);
    const c = rng.int(0, clients - 1);
    const start = Math.max(t, free[c]! + 1);
    const effect = start + rng.int(0, 20);
    const end = effect + rng.int(0, 20);
    free[c] = end;
    planned.push({ client: c, start, effect, end });
  }
  planned.sort((a, b) => a.effect - b.effect);
  return planned.map((p, id) => {
    const key = `k${rng.int(0, keys - 1)}`;
    const cur = values.get(key) ?? null;
    const unknown = rng.chance(unknownRate);
    const base = { id, client: p.client, key, invokedAt: p.start, completedAt: unknown ? Number.POSITIVE_INFINITY : p.end, outcome: unknown ? ('unknown' as const) : ('ok' as const) };
    const roll = rng.float();
    if (roll < casRate) {
      const expected = rng.chance(0.5) ? cur : rng.int(1, 5);
      const value = rng.int(1, 5);
      const ok = expected === cur;
      if (ok) values.set(key, value);
      return { ...base, kind: 'cas' as const, expected, value, outcome: unknown ? 'unknown' : ok ? 'ok' : 'fail' };
    }
    if (roll < casRate + (1 - casRate) / 2) {
      const value = rng.int(1, 5);
      values.set(key, value);
      return { ...base, kind: 'write' as const, value };
    }
    return unknown ? { ...base, kind: 'read' as const } : { ...base, kind: 'read' as const, result: cur };
  });
}

function time(label: string, histories: Operation[][], model: 'register' | 'kv'): void {
  const t0 = performance.now();
  let steps = 0;
  const verdicts = new Map<string, number>();
  for (const h of histories) {
    const r = checkHistory(h, model);
    steps += r.steps;
    verdicts.set(r.verdict, (verdicts.get(r.verdict) ?? 0) + 1);
  }
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(62)} ${ms.toFixed(0).padStart(6)} ms  ${steps.toLocaleString('en-US')} steps  ${[...verdicts].map(([v, n]) => `${n} ${v}`).join(', ')}`);
}

time('10,000 ops, 16 clients, 100 keys (kv, 2% unknown)', [generate(1, 10_000, 16, 100, 0.02, 0.3)], 'kv');
time('1,000 ops, 1 register, 16 clients, 60% cas (register)', [generate(2, 1_000, 16, 1, 0.01, 0.6)], 'register');
const jepsenLike = Array.from({ length: 100 }, (_, i) => generate(100 + i, 600, 5, 1, 0.05, 0.33));
time('100 Jepsen-etcd-like register histories (600 ops, 5 clients)', jepsenLike, 'register');
