/**
 * Deliberately broken variants of Viewstamped Replication, switched on only through
 * ReplicaOptions.mutant. The scenario tests and the simulator must catch every one.
 */
import type { MutantInfo } from '../../core/replica.js';
import { assertListedMutant } from '../../core/mutants.js';

export const VR_MUTANTS = [
  { name: 'do-view-change-longest-log', description: 'the new primary takes the DO-VIEW-CHANGE log with the largest op-number, ignoring the view it was last normal in: a longer log of an older view replaces ops committed in a later one' },
  { name: 'commit-before-quorum', description: 'the primary commits (and executes) an op with one PREPAREOK fewer than f: with n = 3 before any backup holds it, so a view change after the primary fails loses a write a client saw' },
  { name: 'prepare-ok-before-persist', description: 'a backup sends PREPAREOK before the op is durable: after a power loss it forgets an op its answer helped commit' },
  { name: 'truncate-on-transfer', description: 'the paper\'s state transfer taken literally: a replica that enters a later view without its whole log (a PREPARE or COMMIT of that view, a START-VIEW that carries part of the log) cuts its log to its commit-number and counts as normal in that view at once: its DO-VIEW-CHANGE then wins with a log that lacks ops it cut, committed ones included' },
  { name: 'no-view-change-backoff', description: 'every view change gets the same timeout however many failed before it: on slow disks (each step of a view change waits for an fsync) one that takes longer than the timeout is overtaken by the next, again and again, and no view starts' },
  { name: 'send-after-persist', description: 'every message waits for the Ready\'s persist, the primary\'s COMMITs (its heartbeats) and PREPAREs too: on a disk whose fsyncs take longer than the backups\' timeout they depose a healthy primary again and again, and no view lasts' },
  { name: 'ignore-lower-view-change', description: 'a replica ignores a START-VIEW-CHANGE of a view below its own (the paper drops messages of older views): one back from a crash hears of the later view only from the next resend of that view\'s START-VIEW-CHANGE (before view-change messages were resent it climbed the views alone, and with n = 3 and one member down no view started for seconds)' },
  { name: 'prepare-before-view-durable', description: 'a new primary\'s first PREPAREs (and COMMITs) leave before the Ready that makes its view durable: lost power before that write, it comes back in the view change, leads the same view again and assigns the same op-number twice; a backup holding the first takes the second for the same op' },
  { name: 'heartbeats-wait-for-save', description: 'the primary\'s COMMITs (its heartbeats) wait for the next Ready while one is being saved: a save that waits behind a snapshot\'s fsyncs on a slow disk outlasts the backups\' timeout, every primary is deposed at its first snapshot, and the view changes go on after the faults heal' },
  { name: 'commit-on-heartbeat-only', description: 'backups learn of a commit only from the next PREPARE or heartbeat COMMIT: they apply up to a heartbeat later, so a client that reads or watches on a backup right after its write was answered may not find it applied there (a watch below a compaction just answered on the primary is not refused)' },
  { name: 'recovery-without-nonce', description: 'a recovering (diskless) replica takes any RECOVERYRESPONSE, also one answering an earlier attempt: it recovers to a state older than the one it had acknowledged' },
  { name: 'no-view-change-resend', description: 'a replica sends its START-VIEW-CHANGE and DO-VIEW-CHANGE once per view (the paper\'s text): one lost message costs the whole view, whose timeout has grown with each failed view change, and after a few views with down primaries the cluster stays without a view for seconds after the faults heal' },
] as const satisfies readonly MutantInfo[];

export type VrMutant = (typeof VR_MUTANTS)[number]['name'];

export function assertKnownVrMutant(name: string): asserts name is VrMutant {
  assertListedMutant(VR_MUTANTS, 'vr', name);
}
