/**
 * A save that installs a snapshot over a conflicting tail is atomic on disk: cut the WAL at any
 * byte of that save (a crash or a torn write) and open restores either the state before it or
 * the state after it, never the snapshot with the stale tail after it (the log's terms would
 * fall) nor the new entries after stale ones the snapshot replaced (Log Matching broken).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDurableStorage } from '../../src/storage/async.js';
import { nodeFileSystem } from '../../src/storage/node-fs.js';
import type { LogEntry, Persist } from '../../src/core/replica.js';
import type { Index, NodeId, Term } from '../../src/core/ids.js';

const entry = (index: number, term: number, text: string): LogEntry => ({ index: index as Index, term: term as Term, kind: 'command', data: new TextEncoder().encode(text) });

test('installing a snapshot over a stale tail: every cut of the WAL restores before or after, nothing between', async () => {
  const root = mkdtempSync(join(tmpdir(), 'quorate-install-'));
  try {
    const dir = join(root, 'member');
    const s = await openDurableStorage<{ term: number }>(nodeFileSystem, dir);
    const save = (p: Persist<{ term: number }>): Promise<void> => new Promise((res, rej) => s.save(p, (err) => (err ? rej(err) : res())));
    // 1..3 of term 1 committed; 4..6 of term 2 from a deposed leader, never committed.
    await save({ hardState: { term: 2 }, entries: [entry(1, 1, 'a'), entry(2, 1, 'b'), entry(3, 1, 'c'), entry(4, 2, 'stale'), entry(5, 2, 'stale'), entry(6, 2, 'stale')], snapshot: null, truncateFrom: 1 as Index });
    const wal = join(dir, 'wal', readdirSync(join(dir, 'wal')).find((f) => f.endsWith('.wal'))!);
    const before = statSync(wal).size;
    // One Ready: the term-4 leader's snapshot at 5 (term 3) and its entries 6..7 of term 4.
    await save({
      hardState: { term: 4 }, entries: [entry(6, 4, 'new'), entry(7, 4, 'new')], truncateFrom: 6 as Index,
      snapshot: { meta: { index: 5 as Index, term: 3 as Term, membership: { voters: ['n1', 'n2', 'n3'] as NodeId[], outgoingVoters: [], learners: [] } }, data: new Uint8Array([1, 2, 3]) },
    });
    await new Promise<void>((res) => s.close(() => res()));
    const full = readFileSync(wal);
    const states = new Set<string>();
    for (let cut = before; cut <= full.length; cut++) {
      const copy = join(root, `cut-${cut}`);
      cpSync(dir, copy, { recursive: true });
      writeFileSync(join(copy, 'wal', wal.slice(wal.lastIndexOf('/') + 1)), full.subarray(0, cut));
      const r = (await openDurableStorage<{ term: number }>(nodeFileSystem, copy)).restored();
      states.add(`snapshot=${r.snapshot?.meta.index ?? 'none'} log=${r.entries.map((e) => `${e.index}@${e.term}`).join(',')}`);
      rmSync(copy, { recursive: true, force: true });
    }
    assert.deepEqual([...states].sort(), ['snapshot=5 log=6@4,7@4', 'snapshot=none log=1@1,2@1,3@1,4@2,5@2,6@2']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a save that fails to encode leaves nothing queued: no snapshot file is written for it', async () => {
  const root = mkdtempSync(join(tmpdir(), 'quorate-install-'));
  try {
    const dir = join(root, 'member');
    const s = await openDurableStorage<unknown>(nodeFileSystem, dir);
    const unencodable: Record<string, unknown> = { term: 3 };
    unencodable.self = unencodable; // no MessagePack encoding: packTransient throws
    assert.throws(() => s.save({
      hardState: unencodable, entries: [], truncateFrom: null,
      snapshot: { meta: { index: 5 as Index, term: 3 as Term, membership: { voters: ['n1'] as NodeId[], outgoingVoters: [], learners: [] } }, data: new Uint8Array([1]) },
    }, () => assert.fail('a save that threw must not complete')));
    await new Promise<void>((res, rej) => s.sync((err) => (err ? rej(err) : res())));
    await new Promise<void>((res) => s.close(() => res()));
    assert.deepEqual(readdirSync(join(dir, 'snap')), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
