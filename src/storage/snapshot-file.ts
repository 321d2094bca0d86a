/**
 * Snapshot files: a header record, then the data in chunk records of at most `chunkBytes` each,
 * so a snapshot of any size is written and read back as records the reader accepts (one record
 * per snapshot could exceed MAX_RECORD_BYTES and never be read again). Each chunk carries its
 * sequence number and its own CRC; the header says how many chunks and bytes there are, so a
 * torn, missing, reordered or extra chunk makes the file unreadable rather than wrong.
 *
 * The file is written under a temp name, fsynced, renamed and its directory fsynced by the
 * storage (durable-storage.ts); this module only encodes and decodes.
 */
import { assert } from '../core/assert.js';
import { packTransient, unpack } from '../core/codec.js';
import type { Snapshot, SnapshotMeta } from '../core/replica.js';
import { FsError, type FileSystem } from './fs.js';
import { asError } from './steps.js';
import { encodeRecord, encodeRecordParts, MAX_RECORD_BYTES, readRecord, RECORD_HEADER_BYTES, RecordType, type ReadResult } from './record.js';

/** A chunk record's payload starts with its sequence number (u32). */
export const SNAPSHOT_CHUNK_SEQ_BYTES = 4;
/** The largest chunk a record can carry (type byte and sequence number aside). */
export const MAX_SNAPSHOT_CHUNK_BYTES = MAX_RECORD_BYTES - 1 - SNAPSHOT_CHUNK_SEQ_BYTES;

const NAME = /^(\d{16})-(\d{16})\.snap$/;
export const SNAPSHOT_TEMP_SUFFIX = '.tmp';

interface SnapshotHeader {
  readonly meta: SnapshotMeta;
  readonly dataBytes: number;
  readonly chunkBytes: number;
  readonly chunks: number;
}

export function snapshotFileName(meta: SnapshotMeta): string {
  return `${pad(meta.term)}-${pad(meta.index)}.snap`;
}

/** `{ term, index }` of a snapshot file's name, or null for any other name. */
export function parseSnapshotFileName(name: string): { readonly term: number; readonly index: number } | null {
  const m = NAME.exec(name);
  return m === null ? null : { term: Number(m[1]), index: Number(m[2]) };
}

/**
 * Newest first, by index (then term). Not by name: a Paxos slot keeps the ballot that first
 * proposed it as its term, so a later snapshot may carry a lower term than an earlier one.
 */
export function compareSnapshotsNewestFirst(a: { term: number; index: number }, b: { term: number; index: number }): number {
  return b.index - a.index || b.term - a.term;
}

/** The records of a snapshot file, one at a time (memory stays one chunk however big the data). */
export function* encodeSnapshotFile(snapshot: Snapshot, chunkBytes: number): Generator<Buffer> {
  assert(Number.isInteger(chunkBytes) && chunkBytes >= 1 && chunkBytes <= MAX_SNAPSHOT_CHUNK_BYTES, () => `snapshot chunk of ${chunkBytes} bytes`);
  const data = snapshot.data;
  const chunks = Math.ceil(data.byteLength / chunkBytes);
  const header: SnapshotHeader = { meta: snapshot.meta, dataBytes: data.byteLength, chunkBytes, chunks };
  yield encodeRecord(RecordType.SnapshotHeader, packTransient(header));
  for (let seq = 0; seq < chunks; seq++) {
    const seqBytes = Buffer.allocUnsafe(SNAPSHOT_CHUNK_SEQ_BYTES);
    seqBytes.writeUInt32LE(seq, 0);
    const part = data.subarray(seq * chunkBytes, Math.min(data.byteLength, (seq + 1) * chunkBytes));
    assert(part.byteLength > 0 && part.byteLength <= chunkBytes, () => `chunk ${seq} of ${part.byteLength} bytes`);
    yield encodeRecordParts(RecordType.SnapshotChunk, [seqBytes, part]);
  }
}

export type SnapshotRead =
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot; readonly chunks: number }
  | { readonly kind: 'unreadable'; readonly why: string };

/**
 * Read a snapshot file back, record by record. Anything but a whole, well-formed file (a record
 * failing its CRC, an unreadable sector, a missing or extra chunk) is `unreadable`, with why.
 * Also reads the old format: one Snapshot record holding `{ meta, data }`.
 */
export function readSnapshotFile(fs: FileSystem, path: string, verifyChecksums = true): SnapshotRead {
  try {
    return readChecked(fs, path, verifyChecksums);
  } catch (e) {
    const err = asError(e);
    if (err instanceof FsError && err.code === 'EIO') return { kind: 'unreadable', why: `unreadable sector (EIO): ${err.message}` };
    if (err instanceof FsError) throw err;
    return { kind: 'unreadable', why: `undecodable: ${err.message}` };
  }
}

function readChecked(fs: FileSystem, path: string, verify: boolean): SnapshotRead {
  const size = fs.size(path);
  const first = readRecordAt(fs, path, 0, size, verify);
  if (first.kind !== 'record') return { kind: 'unreadable', why: first.kind === 'bad' ? `header record: ${first.why}` : 'empty file' };
  if (first.type === RecordType.Snapshot) {
    // The old format: the whole snapshot in one record.
    if (first.next !== size) return { kind: 'unreadable', why: `${size - first.next} bytes after the snapshot record` };
    const s = unpack(first.payload) as Snapshot;
    assert(s.data instanceof Uint8Array, 'an old-format snapshot holds its data');
    return { kind: 'snapshot', snapshot: { meta: s.meta, data: new Uint8Array(s.data) }, chunks: 1 };
  }
  if (first.type !== RecordType.SnapshotHeader) return { kind: 'unreadable', why: `first record is of type ${first.type}, not a snapshot header` };
  const h = unpack(first.payload) as SnapshotHeader;
  const shapeProblem = headerProblem(h, size);
  if (shapeProblem !== null) return { kind: 'unreadable', why: shapeProblem };
  const data = new Uint8Array(h.dataBytes);
  let offset = first.next;
  for (let seq = 0; seq < h.chunks; seq++) {
    const r = readRecordAt(fs, path, offset, size, verify);
    if (r.kind !== 'record') return { kind: 'unreadable', why: `chunk ${seq} of ${h.chunks} at byte ${offset}: ${r.kind === 'bad' ? r.why : 'missing (file ends)'}` };
    if (r.type !== RecordType.SnapshotChunk || r.payload.length < SNAPSHOT_CHUNK_SEQ_BYTES) return { kind: 'unreadable', why: `record at byte ${offset} is not a chunk` };
    const got = r.payload.readUInt32LE(0);
    if (got !== seq) return { kind: 'unreadable', why: `chunk ${got} found where chunk ${seq} belongs (byte ${offset})` };
    const part = r.payload.subarray(SNAPSHOT_CHUNK_SEQ_BYTES);
    const expected = Math.min(h.chunkBytes, h.dataBytes - seq * h.chunkBytes);
    if (part.length !== expected) return { kind: 'unreadable', why: `chunk ${seq} holds ${part.length} bytes, not ${expected}` };
    data.set(part, seq * h.chunkBytes);
    offset = r.next;
  }
  if (offset !== size) return { kind: 'unreadable', why: `${size - offset} bytes after the last chunk` };
  return { kind: 'snapshot', snapshot: { meta: h.meta, data }, chunks: h.chunks };
}

/** Why a header cannot describe this file (checked before allocating its data), or null. */
function headerProblem(h: SnapshotHeader, fileBytes: number): string | null {
  if (!Number.isInteger(h.dataBytes) || h.dataBytes < 0) return `bad data size ${h.dataBytes}`;
  if (!Number.isInteger(h.chunkBytes) || h.chunkBytes < 1 || h.chunkBytes > MAX_SNAPSHOT_CHUNK_BYTES) return `bad chunk size ${h.chunkBytes}`;
  if (h.chunks !== Math.ceil(h.dataBytes / h.chunkBytes)) return `${h.chunks} chunks cannot hold ${h.dataBytes} bytes of ${h.chunkBytes}`;
  if (fileBytes < h.dataBytes + h.chunks * (RECORD_HEADER_BYTES + 1 + SNAPSHOT_CHUNK_SEQ_BYTES)) return `file of ${fileBytes} bytes is too short for ${h.dataBytes} bytes of data (torn or truncated)`;
  if (typeof h.meta?.index !== 'number' || typeof h.meta?.term !== 'number') return 'header has no snapshot meta';
  return null;
}

/** The record at `offset`, read with two ranged reads (header, then body): never the whole file. */
function readRecordAt(fs: FileSystem, path: string, offset: number, size: number, verify: boolean): ReadResult {
  if (offset === size) return { kind: 'end' };
  if (offset + RECORD_HEADER_BYTES > size) return { kind: 'bad', why: 'short header' };
  const head = Buffer.from(fs.readRange(path, offset, RECORD_HEADER_BYTES));
  const length = head.readUInt32LE(0);
  if (length < 1 || length > MAX_RECORD_BYTES) return { kind: 'bad', why: `impossible length ${length}` };
  if (offset + RECORD_HEADER_BYTES + length > size) return { kind: 'bad', why: `record of ${length} bytes runs past the end of the file` };
  const whole = Buffer.concat([head, fs.readRange(path, offset + RECORD_HEADER_BYTES, length)]);
  const r = readRecord(whole, 0, verify);
  return r.kind === 'record' ? { ...r, next: offset + r.next } : r;
}

function pad(n: number): string {
  return String(n).padStart(16, '0');
}
