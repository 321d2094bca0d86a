/**
 * WAL and snapshot corruption fuzz on the model file system. Each case runs a seeded workload
 * (entries, conflicts, hard states, snapshot installs by saveSnapshot, compactions, segment
 * rotations with small segments), stops the process part way (a crash, or a power loss with one
 * of the model's fates for unsynced writes and directory changes) and may then damage the files
 * (flipped bits, truncation, zeroed sectors, unreadable sectors). Then it opens the storage:
 *
 * - a power loss or crash alone: open succeeds and restores the state of some save at or after
 *   the last acknowledged one (acknowledged: its done(null) ran);
 * - damage anywhere but the log's last byte (flipped bits, bad sectors, zeroed ranges inside the
 *   log, a truncated older segment or snapshot): refused with a QuorateError of code CORRUPT, or
 *   the same guarantee: a sealed, acknowledged write is never silently lost;
 * - damage that reaches the log's last byte (a truncated last segment, zeros up to its end): it
 *   looks like a torn write and may be cut off; anything but a crash is accepted, and counted.
 *
 * Never a thrown error of another class (an AssertionFailure, a TypeError, an FsError), never a
 * hang. An opened store must then take a save that survives a strict power loss. The outcome
 * counts print at the end (paste them from `npm run fuzz`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.js';
import { Prng, type Random } from '../../src/core/prng.js';
import type { RestoredState } from '../../src/core/replica.js';
import type { DirChangesFate, UnsyncedWritesFate } from '../../src/sim/model-fs.js';
import type { DurableStorage, StorageOptions } from '../../src/storage/durable-storage.js';
import { Counts, iterations, seedOf, withSeedSync } from '../fuzz-budget.js';
import { damage, DAMAGE_KINDS, type Damage, type DamageKind } from './damage.js';
import { openStorage, settle, strictPowerLoss, world, type HS, type World } from './model-world.js';
import { describeRestored, describeState, hs, matches, nextOp, type State } from './wal-workload.js';

/** Cases per stop kind at budget 1 (`npm test`); scripts/fuzz.mjs multiplies it. */
export const CASES_PER_KIND = 30;
/** Operations a workload issues before it is stopped, at most. */
export const MAX_OPS = 40;

const FILE_FATES: readonly UnsyncedWritesFate[] = ['lost', 'kept', 'prefix', 'torn-at-sector', 'torn-with-garbage', 'reordered', 'sector-holes', 'seeded'];
const DIR_FATES: readonly DirChangesFate[] = ['lost', 'kept', 'seeded'];

type Stop = { readonly kind: 'crash' } | { readonly kind: 'power-loss'; readonly files: UnsyncedWritesFate };
type Case = { readonly name: string; readonly stop: Stop; readonly damage: DamageKind | null };

/** Every power-loss fate and a crash, undamaged; then each damage kind after a crash or a power loss. */
const CASES: readonly Case[] = [
  { name: 'crash', stop: { kind: 'crash' }, damage: null },
  ...FILE_FATES.map((files): Case => ({ name: `power-loss:${files}`, stop: { kind: 'power-loss', files }, damage: null })),
  ...DAMAGE_KINDS.map((d): Case => ({ name: d, stop: { kind: 'crash' }, damage: d })),
  ...DAMAGE_KINDS.map((d): Case => ({ name: `power-loss+${d}`, stop: { kind: 'power-loss', files: 'seeded' }, damage: d })),
];

interface Workload {
  readonly states: State[];
  /** Index in `states` of the last acknowledged save (0: none, the empty state). */
  readonly acked: number;
}

/** Run a seeded workload on a fresh store and stop it part way, some saves in flight. */
function runWorkload(w: World, s: DurableStorage<HS>, r: Random): Workload {
  const states: State[] = [{ entries: new Map(), hardState: null, snapshot: 0 }];
  let acked = 0;
  const ops = r.int(1, MAX_OPS);
  let issued = 0;
  // Run to the end, or stop at a random step (saves in flight) half the time.
  const horizon = r.chance(0.5) ? Number.POSITIVE_INFINITY : ops + r.int(0, 200);
  for (let step = 0; step < horizon; step++) {
    if (issued < ops && r.chance(0.4)) {
      const { op, state } = nextOp(states[states.length - 1]!, r);
      const idx = states.length;
      states.push(state);
      const done = (err: Error | null): void => {
        assert.equal(err, null, `a save failed on an undamaged disk: ${err?.message}`);
        assert.equal(idx, acked + 1, 'saves complete in order');
        acked = idx;
      };
      if (op.kind === 'save') s.save(op.persist, done);
      else s.saveSnapshot(op.snapshot, done);
      issued++;
    } else if (!w.clock.step() && issued >= ops) {
      break;
    }
  }
  return { states, acked };
}

type Outcome = { readonly kind: 'refused'; readonly cls: string } | { readonly kind: 'opened'; readonly s: DurableStorage<HS> };

/** Open, telling a refusal (a QuorateError of code CORRUPT) from anything else thrown, which fails the case. */
function tryOpen(w: World, options: StorageOptions): Outcome {
  try {
    return { kind: 'opened', s: openStorage(w, options) };
  } catch (err) {
    if (err instanceof QuorateError && err.code === 'CORRUPT') return { kind: 'refused', cls: err.name };
    throw err;
  }
}

/** The restored state is that of a save at or after the last acknowledged one. */
function keepsAcknowledged(restored: RestoredState<HS>, wl: Workload): boolean {
  for (let j = wl.states.length - 1; j >= wl.acked; j--) if (matches(restored, wl.states[j]!)) return true;
  return false;
}

/** After open: a save completes and survives a strict power loss, and the next open repairs nothing. */
function checkUsable(w: World, s: DurableStorage<HS>, options: StorageOptions): void {
  const before = s.restored();
  const marker = hs(0, 1_000_000);
  assert.equal(settle(w, (done) => s.save({ hardState: marker, entries: [], snapshot: null }, done)), null, 'a save after open completes');
  strictPowerLoss(w);
  const again = openStorage(w, options);
  const after = again.restored();
  assert.deepEqual(after.hardState, marker, 'the save after open survived a power loss');
  assert.deepEqual(after.entries.map((e) => `${e.index}@${e.term}`), before.entries.map((e) => `${e.index}@${e.term}`), 'the reopened log is the one opened');
  assert.equal(again.stats().repairs.length, 0, 'the repair made at open was durable');
}

function runCase(c: Case, seed: number, counts: Counts): void {
  const r = new Prng(seed);
  // No write latency: damage.ts rewrites files through the port while the process is stopped.
  const w = world(seed, { writeLatencyMs: 0, syncLatencyMs: r.int(0, 5) });
  const options: StorageOptions = {
    segmentBytes: r.pick([512, 1024, 4096]),
    snapshotChunkBytes: r.pick([64, 256, 4096]),
    keepSnapshots: r.int(1, 3),
    // Above any one save's entries (at most 3 of under 1 KB, wal-workload.ts), so a save stays one
    // record and the acceptable states are exactly the saves'; a restatement of many entries
    // still spans several records (the case restatement-torn.test.ts pins).
    entriesRecordBytes: r.pick([4096, 8192, 1 << 20]),
    maxBatchBytes: r.pick([1024, 1 << 20]),
  };
  const wl = runWorkload(w, openStorage(w, options), r);
  if (c.stop.kind === 'crash') w.fs.crash();
  else w.fs.powerLoss({ files: c.stop.files, dirs: r.pick(DIR_FATES) });
  const loss = c.stop.kind === 'power-loss' ? w.fs.lastPowerLoss() : 'crash';
  const hurt: Damage | null = c.damage === null ? null : damage(w.fs, r, c.damage);
  const label = hurt === null ? c.name : `${c.name}/${hurt.where}`;
  const context = () => `${c.name}; stop: ${loss}; damage: ${hurt?.description ?? 'none'}; acknowledged: ${describeState(wl.states[wl.acked]!)}`;

  const opened = tryOpen(w, options);
  if (opened.kind === 'refused') {
    assert.ok(hurt !== null, `refused to open after a crash or power loss alone (${context()})`);
    counts.add(`${label}: refused (${opened.cls})${hurt.olderSegmentCutAtRecord ? ' (older segment cut at a record boundary: its successor\'s chain record)' : ''}`);
    return;
  }
  const restored = opened.s.restored();
  const cut = opened.s.stats().repairs.length > 0;
  if (keepsAcknowledged(restored, wl)) {
    counts.add(`${label}: opened, ${cut ? 'torn tail cut' : 'intact'}`);
  } else {
    // An older segment cut at a record boundary reads whole: only the chain record of the
    // segment after it tells, and open must refuse it (it used to lose its tail silently).
    assert.ok(hurt?.olderSegmentCutAtRecord !== true, `an older segment cut at a record boundary was read short, not refused (${context()})\n  restored: ${describeRestored(restored)}`);
    if (hurt?.flipsLastWriteAndSeal === true && hurt.reachesLogEnd !== true) {
      counts.add(`${label}: opened, last write cut (acknowledged saves lost: bits flipped in it and in its seal, two faults, read as a torn write)`);
      checkUsable(w, opened.s, options);
      return;
    }
    if (hurt?.zeroesLastWrite === true && hurt.reachesLogEnd !== true) {
      counts.add(`${label}: opened, last write cut (acknowledged saves lost: zeroed sectors in it pass for sectors a power loss left unwritten)`);
      checkUsable(w, opened.s, options);
      return;
    }
    // Only damage that reaches the log's end may pass for a torn write and lose what it hit.
    assert.ok(hurt?.reachesLogEnd === true, `an acknowledged save was lost or a state invented (${context()})\n  restored: ${describeRestored(restored)}`);
    counts.add(`${label}: opened, damaged tail cut (acknowledged saves lost: damage at the log's end passes for a torn write)`);
  }
  checkUsable(w, opened.s, options);
}

test('WAL and snapshot corruption fuzz: every case opens keeping what was acknowledged, or is refused as CORRUPT; nothing else is thrown', { timeout: 600_000 }, () => {
  const counts = new Counts();
  const n = iterations(CASES_PER_KIND);
  CASES.forEach((c, ci) => {
    for (let k = 0; k < n; k++) {
      // Seeds of different cases do not overlap (up to 100,000 cases a kind).
      const seed = seedOf(k, ci * 100_000);
      withSeedSync(seed, `wal ${c.name}`, () => runCase(c, seed, counts), ci * 100_000);
      counts.add('cases');
    }
  });
  console.log(counts.report('WAL/snapshot corruption fuzz outcomes'));
  // Each kind of outcome this suite exists to check was reached (else it checks nothing).
  const all = counts.report('');
  assert.match(all, /refused \(StorageCorruptError\)/);
  assert.match(all, /torn tail cut/);
  assert.match(all, /bit-flip-last-write\/wal: refused/);
});
