/**
 * What a save, or a restated state, becomes in the WAL: the records, in the order replay must
 * apply them. Entries are split into records of about `entriesRecordBytes`, so no record written
 * here can exceed what the reader accepts (MAX_RECORD_BYTES), however many entries one save has.
 * Their CRCs are filled in when their write is sealed (see writeSeal in record.ts).
 */
import { assert } from '../core/assert.js';
import { packTransient } from '../core/codec.js';
import type { Index } from '../core/ids.js';
import type { LogEntry, SnapshotMeta } from '../core/replica.js';
import { encodeWalRecord, RecordType } from './record.js';

/**
 * Where encoded records go, in order: a list of records of their own (RecordList: a
 * restatement), or straight into a buffer a write will carry them in (the storage's saves: no
 * buffer of their own per record).
 */
export interface RecordSink {
  add(type: RecordType, payload: Uint8Array): void;
  /** A record of `value` encoded (MessagePack); `sizeHint`: about how many bytes that takes. */
  addValue(type: RecordType, value: unknown, sizeHint: number): void;
}

/** Records as buffers of their own (a restatement). */
export class RecordList implements RecordSink {
  readonly records: Buffer[] = [];

  add(type: RecordType, payload: Uint8Array): void {
    this.records.push(encodeWalRecord(type, payload));
  }

  addValue(type: RecordType, value: unknown): void {
    this.add(type, packTransient(value));
  }
}

/** Per-entry bytes besides its data in an encoded record (msgpack keys, index, term, kind): an estimate used to split records, not a limit. */
const ENTRY_OVERHEAD_ESTIMATE_BYTES = 64;
/** What a record's value takes besides its entries (a map of a truncation point, a snapshot's meta): a size hint. */
const VALUE_OVERHEAD_ESTIMATE_BYTES = 64;

/**
 * Records that discard stored entries at or after `truncateFrom` (null: none) and then write
 * each entry at its index. A plain truncate-and-append (Raft) uses `Entries` records, the
 * original compact format; anything else `EntriesAt`. Split records replay to the same log: an
 * `Entries` record truncates at its own first index, which the previous part ended just before;
 * only the first `EntriesAt` carries the truncation point.
 */
export function encodeEntries(out: RecordSink, truncateFrom: Index | null, entries: readonly LogEntry[], entriesRecordBytes: number): void {
  const append = isAppend(truncateFrom, entries);
  if (entries.length === 0) {
    if (!append) out.addValue(RecordType.EntriesAt, { truncateFrom, entries: [] }, VALUE_OVERHEAD_ESTIMATE_BYTES);
    return;
  }
  let first = true;
  const parts = splitBySize(entries, entriesRecordBytes);
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]!;
    if (append) out.addValue(RecordType.Entries, part, estimatedBytes(part));
    else out.addValue(RecordType.EntriesAt, { truncateFrom: first ? truncateFrom : null, entries: part }, VALUE_OVERHEAD_ESTIMATE_BYTES + estimatedBytes(part));
    first = false;
  }
}

/**
 * A save that installs a snapshot: one `Install` record with the snapshot's meta, the truncation
 * and as many of the save's entries as fit, then the rest as `EntriesAt` records (a crash between
 * them keeps a consistent prefix: every later record only adds entries).
 */
export function encodeInstall(out: RecordSink, meta: SnapshotMeta, truncateFrom: Index | null, entries: readonly LogEntry[], entriesRecordBytes: number): void {
  const parts = entries.length === 0 ? [entries] : splitBySize(entries, entriesRecordBytes);
  out.addValue(RecordType.Install, { meta, truncateFrom, entries: parts[0]! }, VALUE_OVERHEAD_ESTIMATE_BYTES + estimatedBytes(parts[0]!));
  for (let p = 1; p < parts.length; p++) out.addValue(RecordType.EntriesAt, { truncateFrom: null, entries: parts[p]! }, VALUE_OVERHEAD_ESTIMATE_BYTES + estimatedBytes(parts[p]!));
}

/**
 * The whole current state as the first records of a fresh segment (after a snapshot): the
 * snapshot it continues from, every entry after it, then the truncation of anything after the
 * last of them that an older segment might still hold (should its deletion not survive a power
 * loss), and the hard state. Replayed alone, or after any older segments, it gives the same state.
 *
 * The entries are written at their indexes without truncating, and the truncation comes after
 * all of them: until the restatement is durable the older segments hold every acknowledged save,
 * and a restatement torn after some of its records (it is one write, but may be many records)
 * then only rewrites entries they already hold. Truncating first would drop the acknowledged
 * entries its lost records were to restore.
 */
export function encodeRestatement<H>(meta: SnapshotMeta, entries: readonly LogEntry[], hardState: H | null, entriesRecordBytes: number): Buffer[] {
  assert(entries.every((e) => e.index > meta.index), 'restated entries all follow the snapshot');
  const out = new RecordList();
  out.add(RecordType.Snapshot, packTransient(meta));
  if (entries.length > 0) encodeEntries(out, null, entries, entriesRecordBytes);
  const after = (entries.length === 0 ? meta.index : entries[entries.length - 1]!.index) + 1;
  out.add(RecordType.EntriesAt, packTransient({ truncateFrom: after as Index, entries: [] }));
  if (hardState !== null) out.add(RecordType.HardState, packTransient(hardState));
  return out.records;
}

/** Whether a Persist is a plain truncate-and-append (the compact, original record format). */
function isAppend(truncateFrom: number | null, entries: readonly LogEntry[]): boolean {
  if (entries.length === 0) return truncateFrom === null;
  if (truncateFrom !== entries[0]!.index) return false;
  for (let i = 1; i < entries.length; i++) if (entries[i]!.index !== entries[i - 1]!.index + 1) return false;
  return true;
}

/** About how many bytes `entries` take encoded (a size hint: see ENTRY_OVERHEAD_ESTIMATE_BYTES). */
function estimatedBytes(entries: readonly LogEntry[]): number {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) bytes += entries[i]!.data.byteLength + ENTRY_OVERHEAD_ESTIMATE_BYTES;
  return bytes;
}

/** The entries in consecutive parts of about `targetBytes` (one part, the array itself, when they fit). */
function splitBySize(entries: readonly LogEntry[], targetBytes: number): (readonly LogEntry[])[] {
  // The loop below splits only where the bytes so far pass the target after the first entry: never
  // when there is one entry or all of them fit (nearly every save), which needs no parts array.
  if (entries.length <= 1 || estimatedBytes(entries) <= targetBytes) return [entries];
  const parts: (readonly LogEntry[])[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const size = entries[i]!.data.byteLength + ENTRY_OVERHEAD_ESTIMATE_BYTES;
    if (i > start && bytes + size > targetBytes) {
      parts.push(entries.slice(start, i));
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  parts.push(start === 0 ? entries : entries.slice(start));
  return parts;
}
