export { DurableStorage, StorageCorruptError, DEFAULT_STORAGE_OPTIONS, type StorageOptions, type StorageStats } from './durable-storage.js';
