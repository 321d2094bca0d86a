/**
 * Deliberately broken variants of the driver, switched on only through DriverOptions.mutant
 * (test-only). Each is a mistake a runtime author makes; the simulator must catch every one with
 * its own faults, because the simulator runs this very driver.
 */
import type { MutantInfo } from '../core/replica.js';

export const DRIVER_MUTANTS = [
  { name: 'ack-before-fsync', description: 'the driver lets a Ready\'s messages (acknowledgements, votes) leave as soon as its write is issued, before the fsync: a power loss forgets what was acknowledged' },
  { name: 'apply-before-snapshot-persist', description: 'the driver makes a Ready\'s hard state and entries durable, and applies, before the snapshot that Ready installs is durable (etcd: "save the snapshot before any other entries or hard state"): a power loss in between leaves a commit index beyond the log' },
  { name: 'checkpoint-after-records', description: 'the driver stores a stable checkpoint the core asks to keep only after the records of the same Ready: a power loss in between leaves records beyond the window the surviving checkpoint allows' },
  { name: 'tick-by-timer', description: 'the driver runs one protocol tick per firing of the runtime\'s timer and nothing on other inputs: a process that stalls (GC, SIGSTOP) wakes up with its clock behind, and a leader serves lease reads on a lease that ran out while it slept' },
  { name: 'reply-before-config-applied', description: 'the driver answers a membership change as soon as its entry is applied, before the core takes the new configuration (at the advance after the Ready\'s persist): MemberAdd/MemberRemove answer with the member list from before the change' },
  { name: 'barrier-per-read', description: 'under a quorum client model (BFT protocols), the driver orders one empty request per read barrier instead of sharing one among the reads asked while the last was in flight: on a slow cluster the barriers of callers that gave up and asked another member fill the primary\'s pipeline, and every read waits longer than its caller' },
  { name: 'hold-readies-while-snapshotting', description: 'the driver handles no Ready while the storage writes a snapshot: on a slow disk a compaction takes several fsyncs, the leader\'s heartbeats wait for it, and followers elect another leader, again and again' },
  { name: 'apply-while-installing', description: 'while a received snapshot is still being restored in slices, the driver applies the committed entries of the Readies it goes on with instead of holding them for the install\'s end: they land on the old state, and the install then overwrites them' },
  { name: 'ack-before-decode', description: 'the driver lets the core acknowledge a snapshot received from the leader once it is durable, before the state machine decoded it: a snapshot that does not decode is acknowledged (the leader counts the member as holding it), then fails the install, and the member stops again at every restart' },
] as const satisfies readonly MutantInfo[];

export type DriverMutant = (typeof DRIVER_MUTANTS)[number]['name'];

export function isDriverMutant(name: string | undefined): name is DriverMutant {
  return name !== undefined && DRIVER_MUTANTS.some((m) => m.name === name);
}
