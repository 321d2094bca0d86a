/**
 * WriteAssembly, the buffer a save that finds the writer idle is encoded straight into: it holds
 * exactly what the records encoded one by one hold, and a save larger than the kept buffer does
 * not copy everything added so far once per record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_KEPT_WRITE_BUFFER_BYTES, WriteAssembly, type DurableStorage } from '../../src/storage/durable-storage.js';
import { maxSealBytes, RecordType } from '../../src/storage/record.js';
import { RecordList } from '../../src/storage/wal-records.js';
import { entry, indexes, openStorage, save, world, type HS } from './model-world.js';

test('a save far past the kept buffer, in many records, grows its buffer by doubling (a few copies, not one per record)', () => {
  const assembly = new WriteAssembly();
  const list = new RecordList();
  const payload = new Uint8Array(64 * 1024);
  const records = Math.ceil((4 * MAX_KEPT_WRITE_BUFFER_BYTES) / payload.length);
  assembly.start();
  let buffers = 0;
  let last: Buffer | null = null;
  for (let i = 0; i < records; i++) {
    payload.fill(i & 0xff);
    assembly.add(RecordType.Entries, payload);
    list.add(RecordType.Entries, payload);
    const buf = assembly.room(assembly.length);
    if (buf !== last) buffers++;
    last = buf;
  }
  // What the writer asks for before sealing: the records and room for their seal.
  if (assembly.room(assembly.length + maxSealBytes(assembly.length)) !== last) buffers++;
  // Doubling from one record's size to 4x the kept size, and perhaps once for the seal: about
  // log2(records) + 2 buffers. Growing to the exact size took one per record past the kept size
  // (about 200 here).
  assert.ok(buffers <= Math.log2(records) + 2, `${buffers} buffers for a save of ${records} records`);
  assert.deepEqual(assembly.room(0).subarray(0, assembly.length), Buffer.concat(list.records));
});

test('a write larger than the kept buffer has one of its own, let go when its job ends (not held until the next write)', () => {
  const w = world();
  const s = openStorage(w);
  const assemblyOf = (st: DurableStorage<HS>): WriteAssembly => (st as unknown as { assembly: WriteAssembly }).assembly;
  save(w, s, { hardState: null, entries: [entry(1, 1, MAX_KEPT_WRITE_BUFFER_BYTES + 1000)], snapshot: null });
  assert.deepEqual(indexes(s), ['1@1']);
  assert.ok(assemblyOf(s).room(0).length <= MAX_KEPT_WRITE_BUFFER_BYTES, 'the large buffer is not held once the save is durable');
});
