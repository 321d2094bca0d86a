/**
 * writeSeal CRCs each byte once (record CRCs combined from the CRCs of their parts, see crc32.ts):
 * its output must be byte for byte what CRCing each record, then each sector piece, gives (the
 * two passes it replaced, written out here as the reference), wherever the write lands in its
 * segment and whatever the records' sizes, their fields straddling sector boundaries included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { Prng } from '../../src/core/prng.js';
import { encodeRecord, encodeWalRecord, maxSealBytes, readRecord, RECORD_HEADER_BYTES, RecordType, SEAL_SECTOR_BYTES, sealAt, sealPieces, writeSeal } from '../../src/storage/record.js';

/** The seal of a write of `records` (CRCs filled) landing at `writeAt`, by the two-pass definition. */
function referenceSealed(records: Buffer, writeAt: number): Buffer {
  const pieces = sealPieces(writeAt, writeAt + records.length);
  const payload = Buffer.alloc(16 + 4 * pieces.length);
  payload.writeBigUInt64LE(BigInt(writeAt + records.length), 0);
  payload.writeBigUInt64LE(BigInt(writeAt), 8);
  pieces.forEach(([from, to], i) => payload.writeUInt32LE(crc32(records.subarray(from - writeAt, to - writeAt)), 16 + 4 * i));
  return Buffer.concat([records, encodeRecord(RecordType.Seal, payload)]);
}

function randomRecords(random: Prng, count: number, maxPayloadBytes: number): { wal: Buffer; checked: Buffer } {
  const wal: Buffer[] = [];
  const checked: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const payload = new Uint8Array(random.int(0, maxPayloadBytes));
    for (let b = 0; b < payload.length; b++) payload[b] = random.int(0, 255);
    wal.push(encodeWalRecord(RecordType.Entries, payload));
    checked.push(encodeRecord(RecordType.Entries, payload));
  }
  return { wal: Buffer.concat(wal), checked: Buffer.concat(checked) };
}

function sealed(records: Buffer, writeAt: number): Buffer {
  const buf = Buffer.alloc(records.length + maxSealBytes(records.length), 0xee);
  records.copy(buf);
  return buf.subarray(0, writeSeal(buf, records.length, writeAt));
}

test('writeSeal gives what CRCing each record and then each sector piece gives, wherever the write lands', () => {
  const random = new Prng(21);
  for (let round = 0; round < 400; round++) {
    const count = random.int(0, 6);
    const maxPayloadBytes = random.pick([0, 3, 20, 600, 3000]);
    const { wal, checked } = randomRecords(random, count, maxPayloadBytes);
    const writeAt = random.pick([0, random.int(0, 2 * SEAL_SECTOR_BYTES), random.int(0, 70_000)]);
    assert.deepEqual(sealed(wal, writeAt), referenceSealed(checked, writeAt), `round ${round}: ${count} records, write at ${writeAt}`);
  }
});

test('writeSeal ignores what the CRC fields held: records encoded with their CRC seal the same', () => {
  const random = new Prng(22);
  const { wal, checked } = randomRecords(random, 5, 900);
  for (let writeAt = 0; writeAt < SEAL_SECTOR_BYTES + 8; writeAt++) assert.deepEqual(sealed(checked, writeAt), sealed(wal, writeAt), `write at ${writeAt}`);
});

test('writeSeal, every record CRC field straddling a sector boundary at each of its three inner bytes', () => {
  for (const payloadBytes of [1, 40, 600]) {
    const { wal, checked } = randomRecords(new Prng(23 + payloadBytes), 3, payloadBytes);
    // The first record's CRC field is bytes [4, 8): land the write so a boundary cuts it after 1, 2 or 3 bytes.
    for (const cut of [5, 6, 7]) {
      const writeAt = SEAL_SECTOR_BYTES - cut;
      const out = sealed(wal, writeAt);
      assert.deepEqual(out, referenceSealed(checked, writeAt), `payloads of ${payloadBytes} bytes, field cut after ${cut - 4}`);
      const seal = readRecord(out, wal.length);
      assert.ok(seal.kind === 'record' && sealAt(seal.type, seal.payload, writeAt + wal.length) !== null, 'the seal reads back as the seal of its write');
      assert.equal(out.length, wal.length + RECORD_HEADER_BYTES + seal.payload.length + 1);
    }
  }
});

test('writeSeal of an empty write is the seal alone', () => {
  assert.deepEqual(sealed(Buffer.alloc(0), 12_345), referenceSealed(Buffer.alloc(0), 12_345));
});

test('writeSeal at segment offsets past 2^31 and 2^32 (sector numbers, piece bounds and the field patch stay exact)', () => {
  const { wal, checked } = randomRecords(new Prng(24), 4, 1500);
  for (const base of [2 ** 31, 2 ** 32, 2 ** 40]) {
    for (const writeAt of [base - SEAL_SECTOR_BYTES - 6, base - 5, base, base + 1]) {
      assert.deepEqual(sealed(wal, writeAt), referenceSealed(checked, writeAt), `write at ${writeAt}`);
    }
  }
});
