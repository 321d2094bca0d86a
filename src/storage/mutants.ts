/**
 * Deliberately broken variants of the storage, switched on only through StorageOptions.mutant.
 * Each puts back a storage bug the model file system can expose: the unit tests show each is
 * observably wrong, and the simulator must catch them on its own power losses and disk faults.
 */
import type { MutantInfo } from '../core/replica.js';
import { assertListedMutant } from '../core/mutants.js';

export const STORAGE_MUTANTS = [
  { name: 'skip-dir-fsync', description: 'never fsyncs a directory: after a power loss a new segment, a renamed snapshot or the whole log can vanish with acknowledged saves in it' },
  { name: 'ignore-checksum', description: 'reads records without verifying their CRC: a flipped bit on disk reaches the replica instead of being refused or cut off' },
  { name: 'retry-failed-fsync', description: 'retries a WAL datasync that failed and trusts the retry (fsyncgate): the kernel dropped the failed pages, the retry succeeds with nothing to write, and saves the platter never got are acknowledged' },
  { name: 'unsealed-writes', description: 'writes without seals and cuts off any bad record at the end of the last segment as a torn write: a flipped bit or an unreadable sector in an acknowledged record loses it, and the member then votes or accepts without it' },
  { name: 'unchained-segments', description: 'reads the chain records that start each segment and checks nothing against them: an older segment that lost its tail at a record boundary (every record left reads whole) is read short, and the entries and votes in the lost tail are gone without a word' },
  { name: 'skip-ancestor-fsync', description: 'fsyncs only the directories an open created or holds, not every one above the data directory: after an open killed before its startup job, the next open cannot tell that the first created the data directory\'s parent, and a power loss takes the whole directory with every save acknowledged in it' },
  { name: 'holes-are-damage', description: 'takes valid records after a bad one with no seal for damage even when zeros explain every stretch that does not read: a power loss that left sectors of the last unsynced write unwritten, its seal\'s among them, makes a healthy member refuse to start' },
  { name: 'one-bit-zero-is-torn', description: 'takes a piece of the last write that reads as zeros for a sector the disk never wrote even when the write put a single set bit there: one flipped bit in an acknowledged last write (a short first piece, a length field) is cut off as a torn write, and the save is lost' },
] as const satisfies readonly MutantInfo[];

export type StorageMutant = (typeof STORAGE_MUTANTS)[number]['name'];

export function assertKnownStorageMutant(name: string): asserts name is StorageMutant {
  assertListedMutant(STORAGE_MUTANTS, 'storage', name);
}

export function isStorageMutant(name: string | undefined): name is StorageMutant {
  return name !== undefined && STORAGE_MUTANTS.some((m) => m.name === name);
}
