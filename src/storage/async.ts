/**
 * Promise wrappers over the callback-style storage, for callers that live in async code (the
 * node runtime, the server's tools, tests on real files). The storage itself never creates a
 * Promise: inside the simulator one would never resolve within the run.
 */
import type { Persist, Snapshot } from '../core/replica.js';
import { DurableStorage, type StorageOptions } from './durable-storage.js';
import type { Done, FileSystem } from './fs.js';

function promised(start: (done: Done) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => start((err) => (err === null ? resolve() : reject(err))));
}

export function saveAsync<H>(storage: { save(persist: Persist<H>, done: Done): void }, persist: Persist<H>): Promise<void> {
  return promised((done) => storage.save(persist, done));
}

export function saveSnapshotAsync(storage: { saveSnapshot(snapshot: Snapshot, done: Done): void }, snapshot: Snapshot): Promise<void> {
  return promised((done) => storage.saveSnapshot(snapshot, done));
}

export function syncAsync(storage: { sync(done: Done): void }): Promise<void> {
  return promised((done) => storage.sync(done));
}

export function closeAsync(storage: { close(done: Done): void }): Promise<void> {
  return promised((done) => storage.close(done));
}

/**
 * Open the storage and wait until what it restored is durable (the directories it created, the
 * segments it replayed, a torn-tail repair): only then may a caller act on restored() (send a
 * message that rests on it). Closes the storage again if that fails.
 */
export async function openDurableStorage<H>(fs: FileSystem, dir: string, options: StorageOptions = {}): Promise<DurableStorage<H>> {
  const storage = DurableStorage.open<H>(fs, dir, options);
  try {
    await syncAsync(storage);
  } catch (err) {
    await closeAsync(storage);
    throw err;
  }
  return storage;
}
