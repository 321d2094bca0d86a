/**
 * WAL record framing: [u32 length][u32 crc32][u8 type][payload]. `length` counts type + payload;
 * the CRC (zlib's CRC-32) covers type + payload. A record that is short, too long or fails its
 * CRC is not a record.
 */
import { crc32 } from 'node:zlib';

export const RECORD_HEADER_BYTES = 8;
/** Largest record accepted on read: a larger length field means corruption, not data. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export const enum RecordType {
  /** Entries, truncating at the first one's index (Raft's truncate-and-append). */
  Entries = 1,
  HardState = 2,
  Snapshot = 3,
  /** `{ truncateFrom, entries }`: an explicit truncation point (or none), then each entry at its index. */
  EntriesAt = 4,
}

export function encodeRecord(type: RecordType, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + 1 + payload.byteLength);
  out.writeUInt32LE(1 + payload.byteLength, 0);
  out[8] = type;
  out.set(payload, 9);
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}

export type ReadResult =
  | { readonly kind: 'record'; readonly type: number; readonly payload: Buffer; readonly next: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly why: string };

/** Read the record at `offset` of `buf`. */
export function readRecord(buf: Buffer, offset: number): ReadResult {
  if (offset === buf.length) return { kind: 'end' };
  if (offset + RECORD_HEADER_BYTES > buf.length) return { kind: 'bad', why: 'short header' };
  const length = buf.readUInt32LE(offset);
  if (length < 1 || length > MAX_RECORD_BYTES) return { kind: 'bad', why: `impossible length ${length}` };
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'bad', why: `record of ${length} bytes runs past the end of the file` };
  const body = buf.subarray(offset + RECORD_HEADER_BYTES, end);
  if (crc32(body) !== buf.readUInt32LE(offset + 4)) return { kind: 'bad', why: 'checksum mismatch' };
  return { kind: 'record', type: body[0]!, payload: body.subarray(1), next: end };
}

/** Whether any valid record starts after `from`: tells a torn tail from corruption in the middle. */
export function validRecordAfter(buf: Buffer, from: number): boolean {
  for (let o = from + 1; o + RECORD_HEADER_BYTES < buf.length; o++) {
    const r = readRecord(buf, o);
    if (r.kind === 'record' && r.type >= RecordType.Entries && r.type <= RecordType.EntriesAt) return true;
  }
  return false;
}
