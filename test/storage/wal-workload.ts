/**
 * A seeded replica-like workload for the storage (shared by the power-loss tests and the WAL
 * fuzz): the next save or snapshot a replica might ask for, the state a reopen should restore
 * after it, and a check that a restored state is exactly one of them.
 */
import assert from 'node:assert/strict';
import type { Random } from '../../src/core/prng.js';
import type { Index, Term } from '../../src/core/ids.js';
import type { LogEntry, Persist, RestoredState, Snapshot } from '../../src/core/replica.js';
import { filled, snapshotAt, type HS } from './model-world.js';

export const hs = (commit: number, term = 1): HS => ({ term, vote: 'n1', commit });

export interface State {
  readonly entries: ReadonlyMap<number, number>; // index -> term
  readonly hardState: HS | null;
  readonly snapshot: number;
}

export type Op = { readonly kind: 'save'; readonly persist: Persist<HS> } | { readonly kind: 'snapshot'; readonly snapshot: Snapshot };

export const entrySize = (index: number, term: number) => (index * 37 + term * 11) % 900;
export const entryAt = (index: number, term: number): LogEntry => ({ index: index as Index, term: term as Term, kind: 'command', data: filled(entrySize(index, term), index * 131 + term) });
export const snapshotData = (index: number) => filled((index * 53) % 1500, index);

/** The next operation a replica might ask for, and the state after it. Each save is one WAL record. */
export function nextOp(cur: State, rng: Random): { op: Op; state: State } {
  const indices = [...cur.entries.keys()];
  const last = indices.length === 0 ? cur.snapshot : Math.max(...indices);
  const term = cur.hardState?.term ?? 1;
  const roll = rng.int(0, 9);
  if (roll <= 4 || last === 0) {
    const n = rng.int(1, 3);
    const entries = Array.from({ length: n }, (_, k) => entryAt(last + 1 + k, term));
    const next = new Map(cur.entries);
    for (const e of entries) next.set(e.index, e.term);
    return { op: { kind: 'save', persist: { hardState: null, entries, snapshot: null } }, state: { ...cur, entries: next } };
  }
  if (roll === 5 && last > cur.snapshot + 1) {
    // A conflict: a new leader's entries replace the suffix from `from`.
    const from = rng.int(Math.max(cur.snapshot + 1, last - 2), last);
    const entries = Array.from({ length: rng.int(1, 3) }, (_, k) => entryAt(from + k, term + 1));
    const next = new Map([...cur.entries].filter(([i]) => i < from));
    for (const e of entries) next.set(e.index, e.term);
    return { op: { kind: 'save', persist: { hardState: null, entries, snapshot: null } }, state: { ...cur, entries: next } };
  }
  if (roll <= 7 || last <= cur.snapshot) {
    const commit = cur.hardState?.commit ?? 0;
    const hardState = hs(rng.int(commit, Math.max(commit, last)), term + (rng.chance(0.2) ? 1 : 0));
    return { op: { kind: 'save', persist: { hardState, entries: [], snapshot: null } }, state: { ...cur, hardState } };
  }
  const at = rng.int(cur.snapshot + 1, last);
  const atTerm = cur.entries.get(at);
  assert.ok(atTerm !== undefined, `entry ${at} exists`);
  const snapshot = snapshotAt(at, atTerm, snapshotData(at));
  const next = new Map([...cur.entries].filter(([i]) => i > at));
  return { op: { kind: 'snapshot', snapshot }, state: { ...cur, entries: next, snapshot: at } };
}

export function matches(r: RestoredState<HS>, st: State): boolean {
  const s = r.snapshot?.meta.index ?? 0;
  if (s !== st.snapshot) return false;
  if (s > 0 && !Buffer.from(r.snapshot!.data).equals(Buffer.from(snapshotData(s)))) return false;
  if (JSON.stringify(r.hardState) !== JSON.stringify(st.hardState)) return false;
  const want = [...st.entries].filter(([i]) => i > s).sort((a, b) => a[0] - b[0]);
  if (want.length !== r.entries.length) return false;
  return want.every(([i, t], k) => {
    const e = r.entries[k]!;
    return e.index === i && e.term === t && Buffer.from(e.data).equals(Buffer.from(entryAt(i, t).data));
  });
}

export const describeState = (st: State) => `snapshot ${st.snapshot}, hs ${JSON.stringify(st.hardState)}, entries ${[...st.entries].filter(([i]) => i > st.snapshot).map(([i, t]) => `${i}@${t}`).join(' ')}`;
export const describeRestored = (r: RestoredState<HS>) => `snapshot ${r.snapshot?.meta.index ?? 0}, hs ${JSON.stringify(r.hardState)}, entries ${r.entries.map((e) => `${e.index}@${e.term}`).join(' ')}`;
