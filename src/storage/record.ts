/**
 * Record framing, shared by WAL segments and snapshot files: [u32 length][u32 crc32][u8 type][payload].
 * `length` counts type + payload; the CRC (zlib's CRC-32) covers type + payload. A record that is
 * short, too long or fails its CRC is not a record.
 */
import { crc32 } from 'node:zlib';
import { assert } from '../core/assert.js';

export const RECORD_HEADER_BYTES = 8;
/**
 * Largest record accepted on read: a larger length field means corruption, not data. Writers
 * keep every record far below it (snapshots are written in chunks, entries split into records of
 * about StorageOptions.entriesRecordBytes), so nothing written can be refused when read back.
 */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export const enum RecordType {
  // ---- WAL segments ----
  /** Entries, truncating at the first one's index (Raft's truncate-and-append). */
  Entries = 1,
  HardState = 2,
  /** In a segment: the meta of the snapshot the log continues from. In an old-format snapshot file: the whole snapshot. */
  Snapshot = 3,
  /** `{ truncateFrom, entries }`: an explicit truncation point (or none), then each entry at its index. */
  EntriesAt = 4,
  // ---- snapshot files ----
  /** `{ meta, dataBytes, chunkBytes, chunks }`: the first record of a chunked snapshot file. */
  SnapshotHeader = 5,
  /** `[u32 sequence number][data bytes]`: one chunk of a snapshot's data, in order. */
  SnapshotChunk = 6,
  // ---- WAL segments, continued ----
  /**
   * `{ meta, truncateFrom, entries }`: a snapshot installed, the truncation and the first entries
   * of the same save, in one record: a crash cannot keep the snapshot without the truncation (a
   * stale tail after it) nor the truncation's entries without the snapshot (stale entries before).
   */
  Install = 7,
  /**
   * `[u64 offset of this record in its segment]`: the last record of every write to a segment.
   * A write the disk completed ends with its seal, so damage before a seal is corruption of
   * something that may have been acknowledged, never a torn write (see sealFollows).
   */
  Seal = 8,
}

/** A Seal record's length field: its type and its u64 offset. */
const SEAL_LENGTH = 1 + 8;
/** Bytes of a Seal record. */
export const SEAL_RECORD_BYTES = RECORD_HEADER_BYTES + SEAL_LENGTH;

/** Types a WAL segment may hold (a record of another type there is damage, not data). */
export function isWalRecordType(type: number): boolean {
  return (type >= RecordType.Entries && type <= RecordType.EntriesAt) || type === RecordType.Install || type === RecordType.Seal;
}

export function encodeRecord(type: RecordType, payload: Uint8Array): Buffer {
  // One part, without an array for it: every WAL record comes here.
  const out = newRecord(type, payload.byteLength);
  out.set(payload, RECORD_HEADER_BYTES + 1);
  return sealRecord(out);
}

/** One record whose payload is the concatenation of `parts` (no intermediate copy). */
export function encodeRecordParts(type: RecordType, parts: readonly Uint8Array[]): Buffer {
  let payloadBytes = 0;
  for (const p of parts) payloadBytes += p.byteLength;
  const out = newRecord(type, payloadBytes);
  let at = RECORD_HEADER_BYTES + 1;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return sealRecord(out);
}

/** Write, into the last SEAL_RECORD_BYTES of `buf`, the seal of a write that lands at segment offset `writeAt`. */
export function writeSeal(buf: Buffer, writeAt: number): void {
  const at = buf.length - SEAL_RECORD_BYTES;
  assert(at >= 0, 'a write has room for its seal');
  buf.writeUInt32LE(SEAL_LENGTH, at);
  buf[at + RECORD_HEADER_BYTES] = RecordType.Seal;
  buf.writeBigUInt64LE(BigInt(writeAt + at), at + RECORD_HEADER_BYTES + 1);
  buf.writeUInt32LE(crc32(buf.subarray(at + RECORD_HEADER_BYTES, at + SEAL_RECORD_BYTES)), at + 4);
}

/** Whether a record is a seal written where it lies (a seal-shaped run of bytes elsewhere, e.g. inside a value, is not). */
export function isSealAt(type: number, payload: Buffer, offset: number): boolean {
  return type === RecordType.Seal && payload.length === 8 && payload.readBigUInt64LE(0) === BigInt(offset);
}

/**
 * Whether a seal written where it lies starts after `from`: the write holding the bad record at
 * `from` (or a later one) reached the disk whole, so that record was damaged after it was written.
 */
export function sealFollows(buf: Buffer, from: number): boolean {
  for (let o = from + 1; o + SEAL_RECORD_BYTES <= buf.length; o++) {
    if (buf.readUInt32LE(o) !== SEAL_LENGTH || buf[o + RECORD_HEADER_BYTES] !== RecordType.Seal) continue;
    const r = readRecord(buf, o);
    if (r.kind === 'record' && isSealAt(r.type, r.payload, o)) return true;
  }
  return false;
}

/** A record's buffer with its length and type written; the payload and the CRC are the caller's. */
function newRecord(type: RecordType, payloadBytes: number): Buffer {
  assert(1 + payloadBytes <= MAX_RECORD_BYTES, () => `a record of ${1 + payloadBytes} bytes would exceed MAX_RECORD_BYTES=${MAX_RECORD_BYTES} and never be read back`);
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + 1 + payloadBytes);
  out.writeUInt32LE(1 + payloadBytes, 0);
  out[8] = type;
  return out;
}

/** Write the CRC of type + payload into a record filled by newRecord's caller. */
function sealRecord(out: Buffer): Buffer {
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}

export type ReadResult =
  | { readonly kind: 'record'; readonly type: number; readonly payload: Buffer; readonly next: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly why: string };

/**
 * Read the record at `offset` of `buf`. `verifyChecksum` is false only under the test-only
 * `ignore-checksum` mutant (see mutants.ts).
 */
export function readRecord(buf: Buffer, offset: number, verifyChecksum = true): ReadResult {
  if (offset === buf.length) return { kind: 'end' };
  if (offset + RECORD_HEADER_BYTES > buf.length) return { kind: 'bad', why: 'short header' };
  const length = buf.readUInt32LE(offset);
  if (length < 1 || length > MAX_RECORD_BYTES) return { kind: 'bad', why: `impossible length ${length}` };
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'bad', why: `record of ${length} bytes runs past the end of the file` };
  const body = buf.subarray(offset + RECORD_HEADER_BYTES, end);
  if (verifyChecksum && crc32(body) !== buf.readUInt32LE(offset + 4)) return { kind: 'bad', why: 'checksum mismatch' };
  return { kind: 'record', type: body[0]!, payload: body.subarray(1), next: end };
}

/** Where the record at `offset` claims to end (for blaming an unreadable sector on it). */
export function claimedRecordEnd(buf: Buffer, offset: number): number {
  if (offset + RECORD_HEADER_BYTES > buf.length) return buf.length;
  const length = buf.readUInt32LE(offset);
  const body = length >= 1 && length <= MAX_RECORD_BYTES ? length : 0;
  return Math.min(buf.length, offset + RECORD_HEADER_BYTES + body);
}

/**
 * Assert that `buf` is a whole number of well-framed records (right before it is written): each
 * length field in range, the last record ending exactly at the end of the buffer.
 */
export function assertFramed(buf: Uint8Array): void {
  // Read in place (no Buffer view per write: this runs for every batch the WAL writes).
  const size = buf.byteLength;
  let offset = 0;
  while (offset < size) {
    assert(offset + RECORD_HEADER_BYTES <= size, () => `record header at ${offset} of a ${size}-byte write`);
    const length = (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16)) + buf[offset + 3]! * 0x1000000;
    assert(length >= 1 && length <= MAX_RECORD_BYTES, () => `record length ${length} at ${offset}`);
    offset += RECORD_HEADER_BYTES + length;
  }
  assert(offset === size, () => `records overrun a ${size}-byte write (end at ${offset})`);
}

/** Whether any valid WAL record starts after `from`: tells a torn tail from corruption in the middle. */
export function validRecordAfter(buf: Buffer, from: number): boolean {
  for (let o = from + 1; o + RECORD_HEADER_BYTES < buf.length; o++) {
    const r = readRecord(buf, o);
    if (r.kind === 'record' && isWalRecordType(r.type)) return true;
  }
  return false;
}
