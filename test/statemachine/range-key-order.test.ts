import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MvccStore, type KvRequest, type RangeRequest, type RangeResult } from '../../src/statemachine/mvcc/index.js';
import { Prng } from '../../src/core/prng.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const text = (u: Uint8Array): string => Buffer.from(u).toString('latin1');

interface Live { key: string; value: string; create: number; mod: number }

/**
 * Ranges answered in key order build only the KeyValues they return; count, more, limits and
 * revision filters must still be what a full scan gives. The model keeps every version.
 */
test('a range in key order: count, more, limit, keys-only and revision filters match a full scan, at every revision', () => {
  const random = new Prng(11);
  const store = new MvccStore();
  const history: Map<string, Live | null>[] = [new Map()]; // history[r - 1]: the live keys at revision r
  const keys = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  for (let w = 0; w < 300; w++) {
    const key = keys[random.int(0, keys.length - 1)]!;
    const live = new Map(history[history.length - 1]!);
    const before = live.get(key) ?? null;
    let req: KvRequest;
    if (random.chance(0.2)) {
      if (before === null) continue;
      req = { op: 'delete', key: b(key), rangeEnd: b(''), prevKv: false };
      live.delete(key);
    } else {
      const value = `v${w}`;
      req = { op: 'put', key: b(key), value: b(value), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false };
      const mod = store.revision + 1;
      live.set(key, { key, value, create: before?.create ?? mod, mod });
    }
    store.execute(req);
    history.push(live);
  }
  for (let q = 0; q < 400; q++) {
    const at = random.int(1, store.revision);
    const from = keys[random.int(0, keys.length - 1)]!;
    const end = random.chance(0.2) ? '\u0000' : random.chance(0.2) ? '' : keys[random.int(0, keys.length - 1)]!;
    const req: RangeRequest = {
      op: 'range', key: b(from), rangeEnd: b(end), limit: random.chance(0.5) ? random.int(1, 10) : 0, revision: at,
      sortOrder: random.chance(0.5) ? 'NONE' : 'ASCEND', sortTarget: 'KEY', keysOnly: random.chance(0.3), countOnly: random.chance(0.1),
      minModRevision: random.chance(0.3) ? random.int(1, at) : 0, maxModRevision: random.chance(0.3) ? random.int(1, at) : 0,
      minCreateRevision: random.chance(0.3) ? random.int(1, at) : 0, maxCreateRevision: random.chance(0.3) ? random.int(1, at) : 0,
    };
    const got = store.execute(req) as RangeResult;
    const inRange = [...history[at - 1]!.values()].filter((l): l is Live => l !== null)
      .filter((l) => end === '' ? l.key === from : l.key >= from && (end === '\u0000' || l.key < end))
      .sort((x, y) => (x.key < y.key ? -1 : 1));
    const passing = inRange.filter((l) =>
      (req.minModRevision === 0 || l.mod >= req.minModRevision) && (req.maxModRevision === 0 || l.mod <= req.maxModRevision) &&
      (req.minCreateRevision === 0 || l.create >= req.minCreateRevision) && (req.maxCreateRevision === 0 || l.create <= req.maxCreateRevision));
    const returned = req.countOnly ? [] : req.limit > 0 ? passing.slice(0, req.limit) : passing;
    const what = `query ${q}: ${JSON.stringify({ at, from, end, limit: req.limit, countOnly: req.countOnly })}`;
    assert.equal(got.count, inRange.length, `${what}: count`);
    assert.equal(got.more, !req.countOnly && req.limit > 0 && passing.length > req.limit, `${what}: more`);
    assert.deepEqual(got.kvs.map((kv) => [text(kv.key), text(kv.value), kv.createRevision, kv.modRevision]),
      returned.map((l) => [l.key, req.keysOnly ? '' : l.value, l.create, l.mod]), `${what}: kvs`);
  }
});
