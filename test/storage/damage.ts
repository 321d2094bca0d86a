/**
 * Damage to a stopped member's files on the model file system, for the WAL fuzz: flipped bits,
 * truncation, zeroed sector-aligned ranges, unreadable sectors. Each returns what it did and
 * whether the damage reached the end of the log (the last segment's last byte): damage there
 * is indistinguishable from a torn write, so the storage may cut it off; anywhere else it must
 * refuse or lose nothing.
 */
import type { Random } from '../../src/core/prng.js';
import type { ModelFileSystem } from '../../src/sim/model-fs.js';
import { SECTOR_BYTES } from '../../src/storage/fs.js';
import { readRecord, recordBoundaries, RecordType } from '../../src/storage/record.js';
import { snapDir, walDir } from './model-world.js';

export const DAMAGE_KINDS = ['bit-flip', 'bit-flip-last-write', 'truncate', 'zero-sectors', 'bad-sector'] as const;
export type DamageKind = (typeof DAMAGE_KINDS)[number];

/** Flips, zeroed ranges or bad sectors per damaged case, at most (at least one). */
export const MAX_DAMAGES_PER_CASE = 3;
/** A zeroed range is at most this many sectors long. */
export const MAX_ZEROED_SECTORS = 4;

export interface Damage {
  /** 'wal' or 'snap': which directory the (last) damaged file is in. */
  readonly where: 'wal' | 'snap';
  /** The damage touched the last byte of the last segment (a torn write can look the same). */
  readonly reachesLogEnd: boolean;
  /**
   * Zeroed sectors inside the last write of the last segment: what a power loss leaves when the
   * disk persisted that write's sectors out of order, so the storage may cut the write off (a
   * sector a disk zeroes after the write completed is the price, as in etcd's torn-entry check).
   */
  readonly zeroesLastWrite: boolean;
  /**
   * Bits flipped both in the last write's seal and before it in that write: two faults that leave
   * no seal to tell the write completed, so it reads as torn (a residual the storage README names).
   */
  readonly flipsLastWriteAndSeal: boolean;
  /**
   * An older segment cut exactly at a record boundary (at 0, say): what is left reads whole, and
   * only the next segment's chain record (its predecessor's length and last record's CRC) tells
   * that its tail is gone. Open must refuse it (the fuzz asserts so) when a later segment chains
   * to it; a segment a compaction superseded may instead open intact.
   */
  readonly olderSegmentCutAtRecord: boolean;
  readonly description: string;
}

/** The segment files, oldest first, and the snapshot files (temp files too), as full paths. */
export function damageableFiles(fs: ModelFileSystem): { segments: string[]; snapshots: string[] } {
  // A power loss can revert the directories' own creation.
  if (!fs.exists(walDir) || !fs.exists(snapDir)) return { segments: [], snapshots: [] };
  const segments = fs.readdir(walDir).filter((f) => f.endsWith('.wal')).sort().map((f) => `${walDir}/${f}`);
  const snapshots = fs.readdir(snapDir).sort().map((f) => `${snapDir}/${f}`);
  return { segments: segments.filter((p) => fs.size(p) > 0), snapshots: snapshots.filter((p) => fs.size(p) > 0) };
}

/** [from, to) of the last write in a segment (from the end of the seal before the last one), and where its seal starts. */
export function lastWriteRange(bytes: Buffer): { from: number; to: number; seal: number } | null {
  const seals: { at: number; end: number }[] = [];
  for (let o = 0; ; ) {
    const r = readRecord(bytes, o);
    if (r.kind !== 'record') break;
    if (r.type === RecordType.Seal) seals.push({ at: o, end: r.next });
    o = r.next;
  }
  const last = seals[seals.length - 1];
  if (last === undefined) return null;
  return { from: seals.length > 1 ? seals[seals.length - 2]!.end : 0, to: last.end, seal: last.at };
}

/** Apply one seeded damage of `kind`; null when there is no file to damage. */
export function damage(fs: ModelFileSystem, r: Random, kind: DamageKind): Damage | null {
  const { segments, snapshots } = damageableFiles(fs);
  if (segments.length === 0) return null;
  const last = segments[segments.length - 1]!;
  // Snapshot files get a quarter of the damage (they are fewer and smaller than the segments).
  const pickFile = (): string => (snapshots.length > 0 && r.chance(0.25) ? r.pick(snapshots) : r.pick(segments));
  const where = (path: string): 'wal' | 'snap' => (path.startsWith(walDir) ? 'wal' : 'snap');
  const notes: string[] = [];
  let reachesLogEnd = false;
  let zeroesLastWrite = false;
  let olderSegmentCutAtRecord = false;
  const lastWrite = lastWriteRange(Buffer.from(fs.readFile(last)));
  const flipped: { path: string; at: number }[] = [];
  let lastPath = last;
  const n = r.int(1, MAX_DAMAGES_PER_CASE);
  switch (kind) {
    case 'bit-flip':
      for (let i = 0; i < n; i++) {
        lastPath = pickFile();
        const at = fs.flipBit(lastPath);
        flipped.push({ path: lastPath, at });
        notes.push(`${lastPath}: bit at byte ${at}`);
      }
      break;
    case 'bit-flip-last-write': {
      // The case the seals exist for: a completed (sealed, acknowledged) last write damaged.
      const range = lastWriteRange(Buffer.from(fs.readFile(last)));
      if (range === null) return null;
      const at = r.int(range.from, range.to - 1);
      notes.push(`${last}: bit at byte ${fs.flipBit(last, at)} (last write ${range.from}..${range.to})`);
      break;
    }
    case 'truncate': {
      lastPath = pickFile();
      const size = fs.size(lastPath);
      const to = r.int(0, size - 1);
      if (lastPath !== last && lastPath.startsWith(walDir)) olderSegmentCutAtRecord = recordBoundaries(Buffer.from(fs.readFile(lastPath))).includes(to);
      fs.truncate(lastPath, to);
      fs.persistFile(lastPath); // damage on the platter: a power loss does not undo it
      reachesLogEnd = lastPath === last;
      notes.push(`${lastPath}: truncated from ${size} to ${to} bytes`);
      break;
    }
    case 'zero-sectors':
      for (let i = 0; i < n; i++) {
        lastPath = pickFile();
        const size = fs.size(lastPath);
        const first = r.int(0, Math.ceil(size / SECTOR_BYTES) - 1);
        const from = first * SECTOR_BYTES;
        const to = Math.min(size, from + r.int(1, MAX_ZEROED_SECTORS) * SECTOR_BYTES);
        zeroRange(fs, lastPath, from, to);
        if (lastPath === last && lastWrite !== null && from < lastWrite.to && to > lastWrite.from) zeroesLastWrite = true;
        // Zeros from here to the end (the rest already zero, as a seal's high offset bytes are)
        // look just like a write torn with zeros.
        if (lastPath === last && Buffer.from(fs.readFile(last)).subarray(from).every((x) => x === 0)) reachesLogEnd = true;
        notes.push(`${lastPath}: zeroed bytes ${from}..${to} of ${size}`);
      }
      break;
    case 'bad-sector':
      for (let i = 0; i < n; i++) {
        lastPath = pickFile();
        notes.push(`${lastPath}: unreadable sector at byte ${fs.failSector(lastPath)}`);
      }
      break;
  }
  const inLast = flipped.filter((f) => f.path === last && lastWrite !== null && f.at >= lastWrite.from && f.at < lastWrite.to).map((f) => f.at);
  const flipsLastWriteAndSeal = lastWrite !== null && inLast.some((a) => a >= lastWrite.seal) && inLast.some((a) => a < lastWrite.seal);
  return { where: where(lastPath), reachesLogEnd, zeroesLastWrite, flipsLastWriteAndSeal, olderSegmentCutAtRecord, description: notes.join('; ') };
}

/**
 * Overwrite [from, to) of a file with zeros. The port only appends, so the file is cut at `from`
 * and the zeros and the old tail written back; the process is stopped, so no fd is in use.
 */
function zeroRange(fs: ModelFileSystem, path: string, from: number, to: number): void {
  const old = fs.readFile(path);
  const tail = new Uint8Array(old.length - from);
  tail.set(old.subarray(to), to - from);
  fs.truncate(path, from);
  const fd = fs.openAppend(path);
  let written: Error | null | undefined;
  fs.write(fd, tail, (err) => { written = err; });
  // The fuzz's world has no write latency while damaging (see wal-fuzz.test.ts), so this landed.
  if (written !== null) throw new Error(`zeroing ${path}: the write did not land at once (${String(written)})`);
  fs.close(fd);
  fs.persistFile(path); // damage on the platter: a power loss does not undo it
}

