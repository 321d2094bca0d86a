export { DurableStorage, StorageCorruptError, DEFAULT_STORAGE_OPTIONS, type StorageOptions, type StorageStats } from './durable-storage.js';
export { saveAsync, saveSnapshotAsync, syncAsync, closeAsync, openDurableStorage } from './async.js';
export { FsError, SECTOR_BYTES, type FileSystem, type Fd, type FsErrorCode, type Done } from './fs.js';
export { NodeFileSystem, nodeFileSystem } from './node-fs.js';
export { STORAGE_MUTANTS, type StorageMutant } from './mutants.js';
export { MAX_RECORD_BYTES } from './record.js';
