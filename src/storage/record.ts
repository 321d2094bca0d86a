/**
 * Record framing, shared by WAL segments and snapshot files: [u32 length][u32 crc32][u8 type][payload].
 * `length` counts type + payload; the CRC (zlib's CRC-32) covers type + payload. A record that is
 * short, too long or fails its CRC is not a record.
 */
import { combine, crc32Range, MAX_SHIFT_BYTES, rawRegister, shiftZeros } from './crc32.js';
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
   * something that may have been acknowledged, never a torn write; except in the last write, whose
   * sectors the disk may have persisted out of order: its seal's sector CRCs tell (see mismatchedPieces).
   */
  Seal = 8,
  /**
   * `{ previous, bytes, lastCrc, compaction }`: the first record of every segment this build
   * starts (see chainRecordPayload in durable-storage.ts): the segment before it by number, its
   * length in bytes and the CRC field of its last record (null: it was empty), and whether this
   * segment starts with a compaction's restatement (the segments before it are superseded).
   */
  Chain = 9,
}

/**
 * A seal's payload: [u64 its own offset in the segment][u64 where its write began][u32 CRC-32 of
 * each SEAL_SECTOR_BYTES-aligned piece of the write, in order]. The CRCs tell, for the last write
 * of a segment, sectors that never reached the platter (zeros where the write put something else:
 * the disk persisted the write's sectors out of order before its datasync returned, a torn write)
 * from sectors damaged after they were written (anything else: corruption).
 */
const SEAL_FIXED_PAYLOAD = 8 + 8;
/** The granularity of a seal's sector CRCs: the smallest sector a disk writes atomically. */
export const SEAL_SECTOR_BYTES = 512;
// writeSeal combines a record's CRC across the pieces of a sector: a piece is at most a sector, and
// combine() shifts over at most MAX_SHIFT_BYTES. A larger sector would fail every seal at run time.
assert(SEAL_SECTOR_BYTES <= MAX_SHIFT_BYTES, () => `SEAL_SECTOR_BYTES (${SEAL_SECTOR_BYTES}) exceeds MAX_SHIFT_BYTES (${MAX_SHIFT_BYTES}) of crc32.ts`);

/** The SEAL_SECTOR_BYTES-aligned pieces of the file range [from, to), as [start, end) pairs. */
export function sealPieces(from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  for (let at = from; at < to; ) {
    const end = Math.min(to, (Math.floor(at / SEAL_SECTOR_BYTES) + 1) * SEAL_SECTOR_BYTES);
    out.push([at, end]);
    at = end;
  }
  return out;
}

/** The most bytes the seal of a write of `bytes` bytes takes (the pieces depend on where it lands). */
export function maxSealBytes(bytes: number): number {
  return RECORD_HEADER_BYTES + 1 + SEAL_FIXED_PAYLOAD + 4 * (Math.ceil(bytes / SEAL_SECTOR_BYTES) + 1);
}

/** Types a WAL segment may hold (a record of another type there is damage, not data). */
export function isWalRecordType(type: number): boolean {
  return (type >= RecordType.Entries && type <= RecordType.EntriesAt) || type === RecordType.Install || type === RecordType.Seal || type === RecordType.Chain;
}

export function encodeRecord(type: RecordType, payload: Uint8Array): Buffer {
  // One part, without an array for it: every WAL record comes here.
  const out = newRecord(type, payload.byteLength);
  out.set(payload, RECORD_HEADER_BYTES + 1);
  return sealRecord(out);
}

/**
 * A WAL record with its CRC left for writeSeal, which fills it in the same pass as the seal's
 * CRCs (every WAL write is sealed: see append in durable-storage.ts), so each byte is CRC'd once.
 */
export function encodeWalRecord(type: RecordType, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(walRecordBytes(payload));
  putWalRecord(out, 0, type, payload);
  return out;
}

/** The bytes a WAL record of `payload` takes. */
export function walRecordBytes(payload: Uint8Array): number {
  assert(1 + payload.byteLength <= MAX_RECORD_BYTES, () => `a record of ${1 + payload.byteLength} bytes would exceed MAX_RECORD_BYTES=${MAX_RECORD_BYTES} and never be read back`);
  return RECORD_HEADER_BYTES + 1 + payload.byteLength;
}

/** encodeWalRecord into `buf` at `at` (which has walRecordBytes(payload) bytes of room there). */
export function putWalRecord(buf: Buffer, at: number, type: RecordType, payload: Uint8Array): void {
  writeU32(buf, at, 1 + payload.byteLength);
  writeU32(buf, at + 4, 0);
  buf[at + RECORD_HEADER_BYTES] = type;
  buf.set(payload, at + RECORD_HEADER_BYTES + 1);
}

/**
 * The header and type of a WAL record at `at` whose `payloadBytes` of payload are in place after
 * them (encoded there); its CRC, like encodeWalRecord's, is left for writeSeal.
 */
export function putWalRecordHead(buf: Buffer, at: number, type: RecordType, payloadBytes: number): void {
  assert(1 + payloadBytes <= MAX_RECORD_BYTES, () => `a record of ${1 + payloadBytes} bytes would exceed MAX_RECORD_BYTES=${MAX_RECORD_BYTES} and never be read back`);
  writeU32(buf, at, 1 + payloadBytes);
  writeU32(buf, at + 4, 0);
  buf[at + RECORD_HEADER_BYTES] = type;
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

/**
 * Seal a write: `buf` holds its records in [0, recordBytes) and room for the seal after them (see
 * maxSealBytes); the write lands at segment offset `writeAt`. Fills in every record's CRC (what
 * its CRC field held is ignored: encodeWalRecord leaves it for here), writes the seal after the
 * records and returns the write's length, seal included.
 *
 * Each byte is CRC'd once, where the seal needs it. A piece is cut into parts: the stretches of
 * record headers and of record bodies in it. Each part is CRC'd, and its CRC serves both the piece
 * (the CRC of a piece is the XOR of the CRCs of its parts, each advanced over the bytes after it in
 * the piece: see crc32.ts) and, for a body's part, its record (combined from the CRCs of its
 * body's parts). Most pieces of a large write lie inside one body: the part is the piece. Parts
 * are CRC'd with the records' CRC fields zero; once a record's CRC is known, what its field adds
 * to the CRC of the piece (or two) holding it is added. Every write goes through here (a WAL
 * write of many kilobytes has a piece per 512 bytes), so the pieces and records are walked in
 * place, without arrays of them.
 */
export function writeSeal(buf: Buffer, recordBytes: number, writeAt: number): number {
  const at = recordBytes;
  const end = writeAt + recordBytes;
  const pieces = pieceCount(writeAt, end);
  const length = 1 + SEAL_FIXED_PAYLOAD + 4 * pieces;
  assert(at + RECORD_HEADER_BYTES + length <= buf.length, 'a write has room for its seal');
  // The records' CRC fields are zero while their pieces are CRC'd.
  for (let o = 0; o < recordBytes; ) {
    const bodyBytes = readLength(buf, o);
    assert(bodyBytes >= 1 && o + RECORD_HEADER_BYTES + bodyBytes <= recordBytes, () => `record of ${bodyBytes} bytes at ${o} of a ${recordBytes}-byte write`);
    writeU32(buf, o + 4, 0);
    o += RECORD_HEADER_BYTES + bodyBytes;
  }
  const p = at + RECORD_HEADER_BYTES + 1;
  /** Where the CRC of piece k goes: the seal's payload, after its two offsets. */
  const crcsAt = p + SEAL_FIXED_PAYLOAD;
  const firstSector = Math.floor(writeAt / SEAL_SECTOR_BYTES);
  // The record being CRC'd: its first byte, its body's, its end, and its body's CRC so far.
  let rec = 0;
  let body = RECORD_HEADER_BYTES;
  let recEnd = recordBytes === 0 ? 0 : RECORD_HEADER_BYTES + readLength(buf, 0);
  let recCrc = 0;
  for (let from = 0, k = 0; from < recordBytes; k++) {
    const to = Math.min(recordBytes, (firstSector + k + 1) * SEAL_SECTOR_BYTES - writeAt);
    const slot = crcsAt + 4 * k;
    let pieceCrc = 0;
    for (let x = from; x < to; ) {
      const inBody = x >= body;
      const y = Math.min(inBody ? recEnd : body, to);
      const partCrc = crc32Range(buf, x, y);
      pieceCrc ^= y === to ? partCrc : shiftZeros(partCrc, to - y);
      if (!inBody) {
        x = y;
        continue;
      }
      recCrc = x === body ? partCrc : combine(recCrc, partCrc, y - x);
      x = y;
      if (y < recEnd) continue;
      // The record is CRC'd whole: fill its field, add the field to its pieces' CRCs (this one's
      // in its slot, as far as it goes: the field's share is the same in any order), go to the next.
      writeU32(buf, slot, pieceCrc);
      fillRecordCrc(buf, rec, recCrc, recordBytes, writeAt, crcsAt - 4 * firstSector);
      pieceCrc = readU32(buf, slot);
      rec = recEnd;
      body = rec + RECORD_HEADER_BYTES;
      recEnd = rec < recordBytes ? body + readLength(buf, rec) : rec;
    }
    writeU32(buf, slot, pieceCrc);
    from = to;
  }
  assert(rec === recordBytes, () => `records of a ${recordBytes}-byte write end at ${rec}`);
  writeU32(buf, at, length);
  buf[at + RECORD_HEADER_BYTES] = RecordType.Seal;
  writeU64(buf, writeAt + at, p);
  writeU64(buf, writeAt, p + 8);
  writeU32(buf, at + 4, crc32Range(buf, at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length));
  return at + RECORD_HEADER_BYTES + length;
}

/**
 * Write `crc` into the CRC field of the record at `rec`, whose pieces were CRC'd with the field
 * zero, and add what the field's bytes contribute to the CRC of each piece holding them (a field
 * may straddle a sector boundary). The CRC of the piece of sector s is at `crcAt + 4 * s`.
 */
function fillRecordCrc(buf: Buffer, rec: number, crc: number, recordBytes: number, writeAt: number, crcAt: number): void {
  writeU32(buf, rec + 4, crc);
  for (let f = rec + 4; f < rec + 8; ) {
    const sector = Math.floor((f + writeAt) / SEAL_SECTOR_BYTES);
    const pieceEnd = Math.min(recordBytes, (sector + 1) * SEAL_SECTOR_BYTES - writeAt);
    const fieldEnd = Math.min(rec + 8, pieceEnd);
    const q = crcAt + 4 * sector;
    writeU32(buf, q, readU32(buf, q) ^ shiftZeros(rawRegister(buf, f, fieldEnd), pieceEnd - fieldEnd));
    f = fieldEnd;
  }
}

/**
 * The CRC field of the last record of a framed write (its seal, unless the test-only
 * `unsealed-writes` mutant left it off), null for an empty one: what the next segment's chain
 * record names as the end of this one.
 */
export function lastRecordCrc(buf: Uint8Array): number | null {
  let last = -1;
  for (let o = 0; o < buf.byteLength; o += RECORD_HEADER_BYTES + readLength(buf, o)) last = o;
  if (last < 0) return null;
  return readU32(buf, last + 4);
}

/** The length field of the record at `at` (read in place, without a Buffer method's checks). */
function readLength(buf: Uint8Array, at: number): number {
  return readU32(buf, at);
}

// A u32 little-endian read and written in place. Not Buffer's readUInt32LE and writeUInt32LE: their
// checks of the offset and the value, per call, were a third of what sealing a small write cost.
// Every caller has the room (writeSeal asserts it for the seal; the records are sized to fit).

function readU32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16)) + buf[at + 3]! * 0x1000000;
}

/** The low 32 bits of `value` (any integer a CRC register or a length may be, signed or not). */
function writeU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = (value >>> 8) & 0xff;
  buf[at + 2] = (value >>> 16) & 0xff;
  buf[at + 3] = value >>> 24;
}

/** How many pieces sealPieces(from, to) has. */
function pieceCount(from: number, to: number): number {
  return to <= from ? 0 : Math.floor((to - 1) / SEAL_SECTOR_BYTES) - Math.floor(from / SEAL_SECTOR_BYTES) + 1;
}

/** A u64 little-endian of a safe integer, without a BigInt (offsets stay far below 2^53). */
function writeU64(buf: Buffer, value: number, at: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `a u64 field of ${value}`);
  writeU32(buf, at, value % 0x1_0000_0000);
  writeU32(buf, at + 4, Math.floor(value / 0x1_0000_0000));
}

/** A seal as read: where its write began and the CRC of each piece of it. */
export interface Seal {
  readonly offset: number;
  /** Where the seal record ends. */
  readonly end: number;
  readonly writeStart: number;
  readonly pieceCrcs: readonly number[];
}

/** The seal a record's payload holds, if it is one written where it lies (a seal-shaped run of bytes elsewhere, e.g. inside a value, is not). */
export function sealAt(type: number, payload: Buffer, offset: number): Seal | null {
  if (type !== RecordType.Seal || payload.length < SEAL_FIXED_PAYLOAD || (payload.length - SEAL_FIXED_PAYLOAD) % 4 !== 0) return null;
  if (payload.readBigUInt64LE(0) !== BigInt(offset)) return null;
  const writeStart = Number(payload.readBigUInt64LE(8));
  if (!(writeStart <= offset) || sealPieces(writeStart, offset).length !== (payload.length - SEAL_FIXED_PAYLOAD) / 4) return null;
  const pieceCrcs: number[] = [];
  for (let q = SEAL_FIXED_PAYLOAD; q < payload.length; q += 4) pieceCrcs.push(payload.readUInt32LE(q));
  return { offset, end: offset + RECORD_HEADER_BYTES + 1 + payload.length, writeStart, pieceCrcs };
}

/** The first seal written where it lies that starts after `from`, if any. */
export function nextSeal(buf: Buffer, from: number): Seal | null {
  for (let o = from + 1; o + RECORD_HEADER_BYTES + 1 + SEAL_FIXED_PAYLOAD <= buf.length; o++) {
    if (buf[o + RECORD_HEADER_BYTES] !== RecordType.Seal) continue;
    const r = readRecord(buf, o);
    if (r.kind !== 'record') continue;
    const seal = sealAt(r.type, r.payload, o);
    if (seal !== null) return seal;
  }
  return null;
}

/**
 * The pieces of a sealed write whose bytes do not match their CRC: `zero` when the piece reads all
 * zeros (a sector the disk never wrote, unless `oneBit`), else damaged after it was written.
 * `oneBit` (zero pieces only): what the write put there had exactly one bit set (its CRC is the
 * seal's), so one flipped bit reads as this unwritten sector just as well: bit rot, for all the
 * bytes tell. A short piece (the first bytes of a write, a length field; the last ones before its
 * seal, a small integer) holds one set bit often enough.
 */
export function mismatchedPieces(buf: Buffer, seal: Seal): { from: number; to: number; zero: boolean; oneBit: boolean }[] {
  const out: { from: number; to: number; zero: boolean; oneBit: boolean }[] = [];
  sealPieces(seal.writeStart, seal.offset).forEach(([from, to], i) => {
    const bytes = buf.subarray(from, to);
    const crc = seal.pieceCrcs[i]!;
    if (crc32Range(bytes) === crc) return;
    const zero = bytes.every((b) => b === 0);
    out.push({ from, to, zero, oneBit: zero && oneBitPattern(to - from, crc) });
  });
  return out;
}

/** Whether `crc` is the CRC-32 of some `bytes`-byte run with exactly one bit set. */
function oneBitPattern(bytes: number, crc: number): boolean {
  // Only for a mismatched zero piece at open (at most a sector: 4,096 CRCs of it).
  const run = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at++) {
    for (let bit = 0; bit < 8; bit++) {
      run[at] = 1 << bit;
      if (crc32Range(run) === crc) return true;
    }
    run[at] = 0;
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
  out.writeUInt32LE(crc32Range(out, 8), 4);
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
  if (verifyChecksum && crc32Range(body) !== buf.readUInt32LE(offset + 4)) return { kind: 'bad', why: 'checksum mismatch' };
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
  return nextValidRecord(buf, from) !== null;
}

/** Where the first valid WAL record after `from` starts (null: none does). */
function nextValidRecord(buf: Buffer, from: number): number | null {
  for (let o = from + 1; o + RECORD_HEADER_BYTES < buf.length; o++) {
    const r = readRecord(buf, o);
    if (r.kind === 'record' && isWalRecordType(r.type)) return o;
  }
  return null;
}

/**
 * The fewest bytes of a sector, inside a write, that count as that sector left unwritten when they
 * read as zeros (a few zero bytes where a write put CRCs or a length field may be chance).
 */
const MIN_UNWRITTEN_PIECE_BYTES = 4;

/**
 * Whether `buf` from `from` (where a bad record starts, in a write that began at `writeStart`) to
 * its end reads as that write with some of its sectors never written, its seal's among them: what
 * a power loss leaves when the disk persisted the write's sectors out of order. Every stretch that
 * does not read as whole WAL records holds a SEAL_SECTOR_BYTES-aligned piece of the write (at
 * least MIN_UNWRITTEN_PIECE_BYTES long) that reads as zeros, and the last stretch reaches the end
 * of the file (where the seal was). Whole records up to the end, and a seal-typed record read whole
 * (no seal is written where it lies after `from`, or the caller would have found it), are not.
 */
export function unwrittenSectorsExplain(buf: Buffer, from: number, writeStart: number): boolean {
  for (let at = from; ;) {
    // A stretch that does not read: up to the next valid record after where the bad one claims to
    // end (inside it, a value may carry a record's bytes: see whyNotTorn).
    const next = nextValidRecord(buf, Math.max(at, claimedRecordEnd(buf, at) - 1));
    if (!unwrittenPieceIn(buf, at, next ?? buf.length, writeStart)) return false;
    if (next === null) return true;
    at = next;
    for (;;) {
      const r = readRecord(buf, at);
      if (r.kind === 'end') return false;
      if (r.kind === 'bad' || !isWalRecordType(r.type)) break;
      if (r.type === RecordType.Seal) return false;
      at = r.next;
    }
  }
}

/** Whether an aligned piece of the write (from `writeStart` to the end of `buf`) overlapping [from, to) reads as zeros. */
function unwrittenPieceIn(buf: Buffer, from: number, to: number, writeStart: number): boolean {
  for (let sector = Math.floor(from / SEAL_SECTOR_BYTES) * SEAL_SECTOR_BYTES; sector < to && sector < buf.length; sector += SEAL_SECTOR_BYTES) {
    const a = Math.max(sector, writeStart);
    const b = Math.min(sector + SEAL_SECTOR_BYTES, buf.length);
    if (b <= a) continue;
    let zero = true;
    for (let i = a; i < b && zero; i++) zero = buf[i] === 0;
    if (!zero) continue;
    if (b - a >= MIN_UNWRITTEN_PIECE_BYTES) return true;
    // Fewer zeros may be chance, but for the write's last piece when its last sector held only the
    // seal's last bytes: those are the high bytes of the seal's CRC of the piece before it, so the
    // seal tells what they were. Unwritten if the seal, with them, reads whole where it lies.
    if (b === buf.length && sealWithLostTail(buf, Math.max(from, writeStart), a)) return true;
  }
  return false;
}

/**
 * Whether a seal starts in [from, tailAt) that reads whole, where it lies, once its bytes from
 * `tailAt` to the end of `buf` (fewer than 4: the high bytes of its last piece's CRC) are put back
 * as the bytes before it say they were.
 */
function sealWithLostTail(buf: Buffer, from: number, tailAt: number): boolean {
  const seal = Buffer.from(buf.subarray(from));
  const lost = buf.length - tailAt;
  for (let o = 0; o + RECORD_HEADER_BYTES + 1 + SEAL_FIXED_PAYLOAD + 4 <= seal.length; o++) {
    if (seal[o + RECORD_HEADER_BYTES] !== RecordType.Seal || readLength(seal, o) !== seal.length - o - RECORD_HEADER_BYTES) continue;
    const at = from + o;
    const payload = seal.subarray(o + RECORD_HEADER_BYTES + 1);
    if (payload.readBigUInt64LE(0) !== BigInt(at)) continue;
    const writeStart = Number(payload.readBigUInt64LE(8));
    const pieces = sealPieces(writeStart, at);
    const last = pieces[pieces.length - 1];
    if (last === undefined) continue;
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32Range(buf.subarray(last[0], last[1])));
    crc.copy(seal, seal.length - lost, 4 - lost);
    const r = readRecord(seal, o);
    if (r.kind === 'record' && r.next === seal.length && sealAt(r.type, r.payload, at) !== null) return true;
  }
  return false;
}

/**
 * Offsets where a record starts in `bytes`, from 0, through the end of the last whole record read
 * in order (what is left after a cut at any of them reads whole, record by record).
 */
export function recordBoundaries(bytes: Buffer): number[] {
  const out = [0];
  for (let at = 0; ;) {
    const r = readRecord(bytes, at);
    if (r.kind !== 'record') return out;
    at = r.next;
    out.push(at);
  }
}
