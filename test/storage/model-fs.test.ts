/**
 * The model file system keeps the port's promises and no more: what the WAL tests below rely on
 * to see a missing fsync. Each test names the rule of src/storage/fs.ts it checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FsError, SECTOR_BYTES, type Done } from '../../src/storage/fs.js';
import { filled, world, type World } from './model-world.js';

function run(w: World, start: (done: Done) => void): Error | null {
  let result: Error | null | undefined;
  start((err) => (result = err));
  w.clock.run();
  assert.notEqual(result, undefined, 'completed');
  return result ?? null;
}

function writeAll(w: World, fd: number, ...chunks: Uint8Array[]): void {
  for (const c of chunks) assert.equal(run(w, (d) => w.fs.write(fd, c, d)), null);
}

const bytes = (...v: number[]) => new Uint8Array(v);

test('written data is read back at once; only a datasync issued after the write makes it survive a power loss', () => {
  const w = world();
  w.fs.mkdir('/d');
  assert.equal(run(w, (d) => w.fs.fsyncDir('/', d)), null);
  const fd = w.fs.openAppend('/d/f');
  assert.equal(run(w, (d) => w.fs.fsyncDir('/d', d)), null);
  writeAll(w, fd, bytes(1, 2, 3));
  assert.deepEqual([...w.fs.readFile('/d/f')], [1, 2, 3], 'the page cache has it');
  assert.equal(run(w, (d) => w.fs.datasync(fd, d)), null);
  writeAll(w, fd, bytes(4, 5));
  w.fs.powerLoss({ files: 'lost', dirs: 'lost' });
  assert.deepEqual([...w.fs.readFile('/d/f')], [1, 2, 3], 'the unsynced write is gone');
  assert.equal(w.fs.stats().bytesLostOnPowerLoss, 2);
});

test('a write\'s buffer is the file system\'s until its callback: bytes changed before then are what lands (as node\'s fs.write may read them)', () => {
  const w = world(1, { writeLatencyMs: 1 });
  const fd = w.fs.openAppend('/f');
  const buf = bytes(1, 2, 3);
  let landed = false;
  w.fs.write(fd, buf, (err) => {
    assert.equal(err, null);
    landed = true;
  });
  buf.fill(9); // reused too soon: a writer that does this is caught by what it reads back
  w.clock.run();
  assert.ok(landed);
  assert.deepEqual([...w.fs.readFile('/f')], [9, 9, 9]);
  buf.fill(7); // once the callback has run, the buffer is the caller's again
  assert.deepEqual([...w.fs.readFile('/f')], [9, 9, 9]);
});

test('a datasync covers only writes completed before it was called', () => {
  const w = world(1, { writeLatencyMs: 5, syncLatencyMs: 1 });
  const fd = w.fs.openAppend('/f');
  let synced = false;
  w.fs.write(fd, bytes(9), () => {});
  w.fs.datasync(fd, (err) => (synced = err === null)); // the write is still in flight
  w.clock.run();
  assert.ok(synced);
  w.fs.powerLoss({ files: 'lost', dirs: 'kept' });
  assert.deepEqual([...w.fs.readFile('/f')], [], 'the write was not covered');
});

test('a crash loses nothing the kernel has, closes fds, and drops pending callbacks', () => {
  const w = world(1, { syncLatencyMs: 10 });
  const fd = w.fs.openAppend('/f');
  writeAll(w, fd, bytes(1, 2));
  let called = false;
  w.fs.datasync(fd, () => (called = true));
  w.fs.crash();
  w.clock.run();
  assert.equal(called, false, 'a killed process gets no callback');
  assert.deepEqual([...w.fs.readFile('/f')], [1, 2], 'unsynced data survives a crash');
  assert.equal(w.fs.openFileCount(), 0);
  assert.ok(run(w, (d) => w.fs.write(fd, bytes(3), d)) instanceof FsError, 'the old fd is closed');
  assert.ok(w.fs.exists('/f'), 'an unsynced directory entry survives a crash');
});

test('directory entries: a create, a rename into place and an unlink without a directory fsync revert on power loss', () => {
  const w = world();
  w.fs.mkdir('/d');
  assert.equal(run(w, (d) => w.fs.fsyncDir('/', d)), null);
  const old = w.fs.openAppend('/d/target');
  writeAll(w, old, bytes(1));
  assert.equal(run(w, (d) => w.fs.datasync(old, d)), null);
  const gone = w.fs.openAppend('/d/gone');
  assert.equal(run(w, (d) => w.fs.datasync(gone, d)), null);
  assert.equal(run(w, (d) => w.fs.fsyncDir('/d', d)), null);
  // Unsynced directory changes:
  const tmp = w.fs.openTruncate('/d/target.tmp');
  writeAll(w, tmp, bytes(2));
  assert.equal(run(w, (d) => w.fs.datasync(tmp, d)), null, 'the data is durable, its name is not');
  w.fs.rename('/d/target.tmp', '/d/target');
  w.fs.unlink('/d/gone');
  w.fs.openAppend('/d/new');
  assert.deepEqual(w.fs.readdir('/d').sort(), ['new', 'target']);
  w.fs.powerLoss({ files: 'kept', dirs: 'lost' });
  assert.deepEqual(w.fs.readdir('/d').sort(), ['gone', 'target'], 'create, rename and unlink all reverted');
  assert.deepEqual([...w.fs.readFile('/d/target')], [1], 'the old target is back');
  assert.equal(w.fs.stats().dirChangesLostOnPowerLoss, 4);
  assert.match(w.fs.lastPowerLoss(), /\/d: 4 of 4 entry changes reverted/);
});

test('an fsynced directory keeps its entries; a directory whose own entry is not durable is lost with everything in it', () => {
  const w = world();
  w.fs.mkdir('/a/b');
  const fd = w.fs.openAppend('/a/b/f');
  assert.equal(run(w, (d) => w.fs.datasync(fd, d)), null);
  assert.equal(run(w, (d) => w.fs.fsyncDir('/a/b', d)), null);
  assert.equal(run(w, (d) => w.fs.fsyncDir('/a', d)), null);
  w.fs.powerLoss({ files: 'kept', dirs: 'lost' });
  assert.equal(w.fs.exists('/a'), false, '/ was never fsynced after mkdir /a');
});

test('torn writes: a prefix of the unsynced writes survives, the last torn at a sector boundary', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const w = world(seed);
    const fd = w.fs.openAppend('/f');
    assert.equal(run(w, (d) => w.fs.fsyncDir('/', d)), null);
    const data = filled(5 * SECTOR_BYTES + 100, seed);
    writeAll(w, fd, data.subarray(0, 300), data.subarray(300));
    w.fs.powerLoss({ files: 'torn-at-sector', dirs: 'kept' });
    const got = w.fs.readFile('/f');
    assert.equal(got.length % SECTOR_BYTES, 0, `seed ${seed}: torn at a boundary (${got.length})`);
    assert.ok(got.length > 0 && got.length < data.length, `seed ${seed}: torn, not whole`);
    assert.deepEqual(got, data.subarray(0, got.length), `seed ${seed}: what survived is a prefix`);
  }
});

test('torn writes with garbage: the data up to the cut is intact, the rest of that sector is not the data', () => {
  let differs = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const w = world(seed);
    const fd = w.fs.openAppend('/f');
    const data = filled(4 * SECTOR_BYTES, seed);
    writeAll(w, fd, data);
    w.fs.powerLoss({ files: 'torn-with-garbage', dirs: 'kept' });
    const got = w.fs.readFile('/f');
    assert.ok(got.length % SECTOR_BYTES === 0 && got.length <= data.length, `seed ${seed}: garbage runs to the end of a sector (${got.length})`);
    if (!Buffer.from(got).equals(Buffer.from(data.subarray(0, got.length)))) differs++;
  }
  assert.ok(differs >= 18, `${differs} of 20 torn sectors differ from the data`);
});

test('reordered writes: a later unsynced write can survive while an earlier one is lost (a hole of zeros)', () => {
  const w = world(7);
  const fd = w.fs.openAppend('/f');
  writeAll(w, fd, filled(100, 1), filled(100, 2));
  w.fs.powerLoss({ files: 'reordered', dirs: 'kept' });
  const got = w.fs.readFile('/f');
  assert.equal(got.length, 200);
  assert.deepEqual([...got.subarray(0, 100)], new Array(100).fill(0), 'the first write is a hole');
  assert.deepEqual(got.subarray(100), filled(100, 2), 'the second write survived');
  assert.match(w.fs.lastPowerLoss(), /reordered/);
});

test('read faults: a flipped bit persists; a latent sector error fails reads that cover it until the sector is cut off', () => {
  const w = world(3);
  const fd = w.fs.openAppend('/f');
  const data = filled(3 * SECTOR_BYTES, 9);
  writeAll(w, fd, data);
  assert.equal(run(w, (d) => w.fs.datasync(fd, d)), null);
  const at = w.fs.flipBit('/f', 700);
  assert.equal(at, 700);
  const flipped = w.fs.readFile('/f');
  assert.notEqual(flipped[700], data[700]);
  assert.equal(flipped.filter((b, i) => b !== data[i]).length, 1, 'one byte differs');
  assert.equal(w.fs.failSector('/f', 1100), 2 * SECTOR_BYTES);
  assert.throws(() => w.fs.readFile('/f'), (e: Error) => e instanceof FsError && e.code === 'EIO');
  assert.throws(() => w.fs.readRange('/f', 1000, 30), (e: Error) => e instanceof FsError && e.code === 'EIO');
  assert.equal(w.fs.readRange('/f', 0, SECTOR_BYTES).length, SECTOR_BYTES, 'other sectors read');
  w.fs.truncate('/f', 2 * SECTOR_BYTES);
  assert.equal(w.fs.readFile('/f').length, 2 * SECTOR_BYTES, 'cut off: readable again');
  const st = w.fs.stats();
  assert.equal(st.bitFlips, 1);
  assert.equal(st.sectorErrors, 1);
  assert.equal(st.faultsInjected, 2);
});

test('read faults by probability come from the seed: the same seed flips the same bits', () => {
  const outcome = (seed: number) => {
    const w = world(seed, { bitFlipPerReadProbability: 0.5, sectorErrorPerReadProbability: 0.1 });
    const fd = w.fs.openAppend('/f');
    writeAll(w, fd, filled(4096, 1));
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        seen.push(String(w.fs.readRange('/f', 0, 4096).reduce((h, b) => (h * 31 + b) >>> 0, 7)));
      } catch (e) {
        seen.push((e as Error).message);
      }
    }
    return { seen, stats: w.fs.stats() };
  };
  assert.deepEqual(outcome(11), outcome(11));
  assert.ok(outcome(11).stats.faultsInjected > 0);
  assert.notDeepEqual(outcome(11).seen, outcome(12).seen);
});

test('a failed datasync drops what it covered: a later datasync reports success, yet a power loss shows the data never became durable', () => {
  const w = world();
  const fd = w.fs.openAppend('/f');
  assert.equal(run(w, (d) => w.fs.fsyncDir('/', d)), null);
  writeAll(w, fd, bytes(1, 2, 3));
  w.fs.failNextSync();
  assert.ok(run(w, (d) => w.fs.datasync(fd, d)) instanceof FsError);
  assert.equal(run(w, (d) => w.fs.datasync(fd, d)), null, 'the retry "succeeds"');
  assert.deepEqual([...w.fs.readFile('/f')], [1, 2, 3], 'the kernel still shows the data');
  w.fs.powerLoss({ files: 'kept', dirs: 'kept' });
  assert.deepEqual([...w.fs.readFile('/f')], [], 'but it was never written');
  assert.equal(w.fs.stats().syncErrors, 1);
});

test('an injected write error writes nothing', () => {
  const w = world();
  const fd = w.fs.openAppend('/f');
  w.fs.failNextWrite('ENOSPC');
  const err = run(w, (d) => w.fs.write(fd, bytes(1), d));
  assert.ok(err instanceof FsError && err.code === 'ENOSPC');
  assert.equal(w.fs.size('/f'), 0);
});

test('a seeded power loss is deterministic: same seed, same survivors and the same description', () => {
  const outcome = (seed: number) => {
    const w = world(seed);
    w.fs.mkdir('/d');
    for (let f = 0; f < 4; f++) {
      const fd = w.fs.openAppend(`/d/f${f}`);
      writeAll(w, fd, filled(700, f), filled(900, f + 10), filled(300, f + 20));
    }
    w.fs.powerLoss();
    const files = w.fs.exists('/d') ? w.fs.readdir('/d').sort().map((n) => `${n}:${Buffer.from(w.fs.readFile(`/d/${n}`)).toString('hex')}`) : [];
    return { files, note: w.fs.lastPowerLoss() };
  };
  assert.deepEqual(outcome(5), outcome(5));
  const notes = new Set(Array.from({ length: 10 }, (_, i) => outcome(i + 1).note));
  assert.ok(notes.size > 5, 'different seeds keep different things');
});

test('paths: errors carry POSIX codes', () => {
  const w = world();
  assert.throws(() => w.fs.readdir('/nope'), (e: Error) => e instanceof FsError && e.code === 'ENOENT');
  assert.throws(() => w.fs.openAppend('/nope/f'), (e: Error) => e instanceof FsError && e.code === 'ENOENT');
  w.fs.mkdir('/d');
  assert.throws(() => w.fs.readFile('/d'), (e: Error) => e instanceof FsError && e.code === 'EISDIR');
  w.fs.openAppend('/d/f');
  assert.throws(() => w.fs.mkdir('/d/f/g'), (e: Error) => e instanceof FsError && e.code === 'ENOTDIR');
  assert.throws(() => w.fs.close(12345), (e: Error) => e instanceof FsError && e.code === 'EBADF');
});

test('paths: a file is created, renamed and removed through any spelling of its path (dot names, doubled and trailing slashes, relative), as posix resolves it', () => {
  const w = world();
  w.fs.mkdir('/a/b');
  const fd = w.fs.openAppend('a//b/./f');
  w.fs.close(fd);
  assert.deepEqual(w.fs.readdir('/a/b'), ['f']);
  w.fs.rename('/a/b/../b/f', '/a/./g');
  assert.deepEqual(w.fs.readdir('/a').sort(), ['b', 'g']);
  assert.equal(w.fs.exists('/a/g'), true);
  w.fs.unlink('/a/b/../g');
  assert.deepEqual(w.fs.readdir('/a'), ['b']);
  // The last name of a path naming no file: what it resolves to, not a file of that name.
  assert.throws(() => w.fs.unlink('/a/b/..'), (e: Error) => e instanceof FsError && e.code === 'EISDIR');
  assert.throws(() => w.fs.unlink('/a/b/.'), (e: Error) => e instanceof FsError && e.code === 'EISDIR');
  assert.throws(() => w.fs.unlink('/'), (e: Error) => e instanceof FsError && e.code === 'EISDIR');
  assert.throws(() => w.fs.openAppend('/a/nope/f'), (e: Error) => e instanceof FsError && e.code === 'ENOENT' && e.path === '/a/nope');
  assert.throws(() => w.fs.rename('/a/b/missing', '/a/h'), (e: Error) => e instanceof FsError && e.code === 'ENOENT');
});
