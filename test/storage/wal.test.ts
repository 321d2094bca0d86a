import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Index, Term } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/replica.js';
import { closeAsync, DurableStorage, nodeFileSystem, saveAsync, saveSnapshotAsync, StorageCorruptError, type StorageOptions } from '../../src/storage/index.js';
import { lastSealStart, sealStarts } from './seal-offsets.js';

type HS = { term: number; vote: string | null; commit: number };
const entry = (i: number, t = 1): LogEntry => ({ index: i as Index, term: t as Term, kind: 'command', data: new TextEncoder().encode(`e${i}t${t}`) });
const range = (a: number, b: number, t = 1) => Array.from({ length: b - a + 1 }, (_, k) => entry(a + k, t));
const fresh = () => mkdtempSync(join(tmpdir(), 'quorate-wal-'));
const open = (dir: string, options?: StorageOptions) => DurableStorage.open<HS>(nodeFileSystem, dir, options);
const indexes = (s: DurableStorage<HS>) => s.restored().entries.map((e) => `${e.index}@${e.term}`);
const lastSegment = (dir: string) => join(dir, 'wal', readdirSync(join(dir, 'wal')).sort().pop()!);

test('round trip: entries, hard state and snapshot survive close and reopen', async () => {
  const dir = fresh();
  const s = open(dir);
  await saveAsync(s, { hardState: { term: 1, vote: 'n1', commit: 0 }, entries: range(1, 5), snapshot: null });
  await saveAsync(s, { hardState: { term: 2, vote: null, commit: 3 }, entries: [], snapshot: null });
  await closeAsync(s);
  const r = open(dir);
  assert.deepEqual(r.restored().hardState, { term: 2, vote: null, commit: 3 });
  assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1', '4@1', '5@1']);
  assert.deepEqual(r.restored().entries[2]!.data, entry(3).data);
  await closeAsync(r);
});

test('a conflicting entry replaces the stored suffix, across segment rotation', async () => {
  const dir = fresh();
  const s = open(dir, { segmentBytes: 200 });
  for (let i = 1; i <= 10; i++) await saveAsync(s, { hardState: null, entries: [entry(i)], snapshot: null });
  await saveAsync(s, { hardState: null, entries: range(7, 8, 2), snapshot: null });
  await closeAsync(s);
  assert.ok(readdirSync(join(dir, 'wal')).length > 2, 'rotated');
  const r = open(dir);
  assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1', '4@1', '5@1', '6@1', '7@2', '8@2']);
  await closeAsync(r);
});

test('slots written at their index without truncation (Multi-Paxos): single slots are overwritten, gaps survive, across snapshots and reopen', async () => {
  const dir = fresh();
  const s = open(dir);
  await saveAsync(s, { hardState: null, entries: [entry(1), entry(4), entry(2)], snapshot: null, truncateFrom: null });
  await saveAsync(s, { hardState: null, entries: [entry(2, 5)], snapshot: null, truncateFrom: null }); // re-accepted in a later ballot
  assert.deepEqual(indexes(s), ['1@1', '2@5', '4@1'], 'in index order, 3 is a hole, 4 kept');
  await saveAsync(s, { hardState: null, entries: [entry(6)], snapshot: null, truncateFrom: null });
  await saveSnapshotAsync(s, { meta: { index: 1 as Index, term: 1 as Term, membership: { voters: [], outgoingVoters: [], learners: [] } }, data: new Uint8Array([1]) });
  await closeAsync(s);
  const r = open(dir);
  assert.deepEqual(indexes(r), ['2@5', '4@1', '6@1'], 'after the snapshot, with its gaps');
  // An explicit truncation point still truncates (what Raft asks for).
  await saveAsync(r, { hardState: null, entries: [entry(4, 7)], snapshot: null, truncateFrom: 4 as Index });
  await closeAsync(r);
  const again = open(dir);
  assert.deepEqual(indexes(again), ['2@5', '4@7']);
  await closeAsync(again);
});

for (const [name, cut] of [['mid-header', 3], ['mid-payload', 20], ['garbage, no seal', -1]] as const) {
  test(`a torn tail (${name}) is cut off and reported; earlier records are intact`, async () => {
    const dir = fresh();
    const s = open(dir);
    await saveAsync(s, { hardState: null, entries: range(1, 3), snapshot: null });
    await saveAsync(s, { hardState: null, entries: range(4, 6), snapshot: null });
    await closeAsync(s);
    const seg = lastSegment(dir);
    const full = readFileSync(seg);
    // The first write: its record, then its seal (the second write starts where the first seal ends).
    const firstWrite = readRecordEnd(full, sealStarts(full)[0]!);
    if (cut === -1) {
      // The second write's record whole but with its last byte garbled, and its seal never written.
      const damaged = Buffer.from(full.subarray(0, lastSealStart(full)));
      damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 0xff;
      writeFileSync(seg, damaged);
    } else {
      writeFileSync(seg, full.subarray(0, firstWrite + cut));
    }
    const logs: string[] = [];
    const r = open(dir, { logger: (m) => logs.push(m) });
    assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1']);
    assert.equal(r.stats().repairs.length, 1);
    assert.match(logs[0]!, /truncated torn tail/);
    assert.equal(statSync(seg).size, firstWrite, 'the file was truncated to the end of the last whole write');
    await saveAsync(r, { hardState: null, entries: range(4, 4, 3), snapshot: null });
    await closeAsync(r);
    const again = open(dir);
    assert.deepEqual(indexes(again), ['1@1', '2@1', '3@1', '4@3'], 'appends after the repair are readable');
    await closeAsync(again);
  });
}

test('a sealed last write with a garbled byte is refused, not cut off: it may have been acknowledged', async () => {
  const dir = fresh();
  const s = open(dir);
  await saveAsync(s, { hardState: null, entries: range(1, 3), snapshot: null });
  await saveAsync(s, { hardState: null, entries: range(4, 6), snapshot: null });
  await closeAsync(s);
  const seg = lastSegment(dir);
  const full = readFileSync(seg);
  const secondRecord = readRecordEnd(full, sealStarts(full)[0]!);
  const lastByte = lastSealStart(full) - 1;
  full[lastByte] = full[lastByte]! ^ 0x01;
  writeFileSync(seg, full);
  assert.throws(() => open(dir), (e: Error) => e instanceof StorageCorruptError && e.offset === secondRecord && /differ from what its seal says was written/.test(e.message));
  assert.equal(statSync(seg).size, full.length, 'nothing was cut off');
});

test('a garbled seal of the last write alone is cut off, and every record of that write is kept (and sealed again)', async () => {
  const dir = fresh();
  const s = open(dir);
  await saveAsync(s, { hardState: null, entries: range(1, 3), snapshot: null });
  await saveAsync(s, { hardState: null, entries: range(4, 6), snapshot: null });
  await closeAsync(s);
  const seg = lastSegment(dir);
  const full = readFileSync(seg);
  const sealStart = lastSealStart(full);
  full[full.length - 1] = full[full.length - 1]! ^ 0xff;
  writeFileSync(seg, full);
  const r = open(dir);
  assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1', '4@1', '5@1', '6@1']);
  await closeAsync(r);
  assert.equal(lastSealStart(readFileSync(seg)), sealStart, 'the damaged seal was cut off and open sealed the same records again');
});

test('corruption before the tail is refused with a clear error, never skipped', async () => {
  const dir = fresh();
  const s = open(dir);
  for (let i = 1; i <= 5; i++) await saveAsync(s, { hardState: null, entries: [entry(i)], snapshot: null });
  await closeAsync(s);
  const seg = lastSegment(dir);
  const buf = readFileSync(seg);
  buf[12] = buf[12]! ^ 0x55; // inside the first record's payload
  writeFileSync(seg, buf);
  assert.throws(() => open(dir), (e: Error) => e instanceof StorageCorruptError && /byte 0/.test(e.message) && e.code === 'CORRUPT');
});

test('a bad record in a segment that is not the last is refused', async () => {
  const dir = fresh();
  const s = open(dir, { segmentBytes: 100 });
  for (let i = 1; i <= 6; i++) await saveAsync(s, { hardState: null, entries: [entry(i)], snapshot: null });
  await closeAsync(s);
  const first = join(dir, 'wal', readdirSync(join(dir, 'wal')).sort()[0]!);
  appendFileSync(first, Buffer.from([1, 2, 3]));
  assert.throws(() => open(dir), StorageCorruptError);
});

test('group commit: many concurrent saves share fsyncs and become durable in order', async () => {
  const dir = fresh();
  const s = open(dir);
  const order: number[] = [];
  await Promise.all(range(1, 1000).map((e) => saveAsync(s, { hardState: null, entries: [e], snapshot: null }).then(() => order.push(e.index))));
  const st = s.stats();
  assert.equal(st.saves, 1000);
  assert.ok(st.fsyncs < 100, `${st.fsyncs} fsyncs for 1000 saves`);
  assert.deepEqual(order, range(1, 1000).map((e) => e.index), 'resolved in order');
  await closeAsync(s);
  const r = open(dir);
  assert.equal(r.restored().entries.length, 1000);
  await closeAsync(r);
});

test('snapshots: written atomically, old segments compacted, a reopen still has everything', async () => {
  const dir = fresh();
  const s = open(dir, { segmentBytes: 150 });
  for (let i = 1; i <= 10; i++) await saveAsync(s, { hardState: { term: 1, vote: null, commit: i }, entries: [entry(i)], snapshot: null });
  const before = readdirSync(join(dir, 'wal')).length;
  await saveSnapshotAsync(s, { meta: { index: 8 as Index, term: 1 as Term, membership: { voters: [], outgoingVoters: [], learners: [] } }, data: new Uint8Array([42]) });
  await closeAsync(s);
  assert.ok(readdirSync(join(dir, 'wal')).length < before, 'segments below the snapshot were deleted');
  writeFileSync(join(dir, 'snap', 'leftover.snap.tmp'), 'half a snapshot');
  const r = open(dir);
  const st = r.restored();
  assert.equal(st.snapshot?.meta.index, 8);
  assert.deepEqual([...st.snapshot!.data], [42]);
  assert.deepEqual(indexes(r), ['9@1', '10@1']);
  assert.deepEqual(st.hardState, { term: 1, vote: null, commit: 10 });
  assert.ok(!readdirSync(join(dir, 'snap')).some((f) => f.endsWith('.tmp')), 'leftover temp file removed');
  await closeAsync(r);
});

test('reopen after a crash (SIGKILL mid-write loop): every acknowledged entry is there', { timeout: 30_000 }, async () => {
  const dir = fresh();
  const storageJs = fileURLToPath(new URL('../../src/storage/index.js', import.meta.url));
  const script = `
    const { openDurableStorage, nodeFileSystem, saveAsync } = await import(${JSON.stringify(storageJs)});
    const s = await openDurableStorage(nodeFileSystem, ${JSON.stringify(dir)});
    for (let i = 1; ; i++) {
      await saveAsync(s, { hardState: { term: 1, vote: null, commit: i }, entries: [{ index: i, term: 1, kind: 'command', data: new Uint8Array(200) }], snapshot: null });
      process.stdout.write(i + '\\n');
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Never let a stuck writer hang the test run.
  setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  let acked = 0;
  await new Promise<void>((resolve) => {
    child.on('exit', () => resolve());
    child.stdout.on('data', (d: Buffer) => {
      const lines = d.toString().trim().split('\n');
      acked = Math.max(acked, Number(lines[lines.length - 1]));
      if (acked >= 300) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => child.on('exit', r));
  const r = open(dir);
  const st = r.restored();
  assert.ok(st.entries.length >= acked, `${st.entries.length} entries on disk, ${acked} acknowledged`);
  assert.deepEqual(st.entries.slice(0, acked).map((e) => e.index), Array.from({ length: acked }, (_, k) => k + 1));
  await closeAsync(r);
});

/** Where the record at `offset` ends. */
function readRecordEnd(buf: Buffer, offset: number): number {
  return offset + 8 + buf.readUInt32LE(offset);
}
