/**
 * The snapshot file that Maintenance.Snapshot streams and `quorate snapshot restore` reads: its
 * length is what etcdctl accepts (a multiple of 512 plus a 32-byte SHA-256), and a damaged or
 * foreign file is refused rather than restored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeSnapshotFile, encodeSnapshotBody } from '../../src/server/maintenance-service.js';

function file(body: Buffer): Buffer {
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

test('a snapshot file round-trips, and its length is a multiple of 512 plus 32 (etcdctl snapshot save checks it)', () => {
  for (const size of [0, 1, 499, 500, 5000]) {
    const sm = new Uint8Array(size).fill(7);
    const f = file(encodeSnapshotBody(sm, 42));
    assert.equal(f.length % 512, 32);
    const back = decodeSnapshotFile(f);
    assert.equal(back.revision, 42);
    assert.deepEqual(Buffer.from(back.stateMachine), Buffer.from(sm));
  }
});

test('a damaged snapshot file or one of another format is refused', () => {
  const f = file(encodeSnapshotBody(new Uint8Array([1, 2, 3]), 5));
  const damaged = Buffer.from(f);
  damaged[10] = damaged[10]! ^ 0xff;
  assert.throws(() => decodeSnapshotFile(damaged), /checksum mismatch/);
  assert.throws(() => decodeSnapshotFile(file(Buffer.alloc(512))), /not a quorate snapshot|cannot be decoded/);
  assert.throws(() => decodeSnapshotFile(Buffer.alloc(10)), /too short/);
});
