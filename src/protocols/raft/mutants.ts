/**
 * Deliberately broken variants of Raft, switched on only through ReplicaOptions.mutant. Each
 * is a classic implementation mistake; the scenario tests and the simulator must catch every one.
 */
import type { MutantInfo } from '../../core/replica.js';
import { assertListedMutant } from '../../core/mutants.js';

export const RAFT_MUTANTS = [
  { name: 'commit-old-term', description: 'commits entries of a previous term by counting replicas (Figure 8)' },
  { name: 'vote-before-persist', description: 'sends a vote without making it durable: after a crash the node may vote twice in one term' },
  { name: 'snapshot-off-by-one', description: 'log compaction drops one entry beyond the snapshot\'s last included index' },
  { name: 'reset-timer-wrongly', description: 'resets the election timer on stale AppendEntries and denied votes, not on granted votes or valid AppendEntries' },
  { name: 'apply-twice', description: 'ignores the applied index on restart and re-applies entries the state machine already has' },
  { name: 'accept-any-vote', description: 'grants votes without the log up-to-date check (§5.4.1)' },
  { name: 'stale-read', description: 'answers ReadIndex without confirming leadership with a quorum' },
  { name: 'no-noop', description: 'a new leader does not append an entry of its own term' },
  { name: 'stalled-window', description: 'a follower whose in-flight window filled with appends that were lost is never sent another: it stays behind for good' },
  { name: 'limit-internal-entries', description: 'the uncommitted-entries limit also refuses a new leader\'s own no-op (it throws inside step and the leader never commits)' },
  { name: 'lease-outlives-quorum', description: 'serves lease reads for as long as it believes it leads, and during a leadership transfer, rather than within an election timeout of a quorum\'s acknowledgement' },
  { name: 'resend-snapshot-chunks', description: 'resends snapshot chunks from the acknowledged offset on every heartbeat response, not only once the transfer stalled: a slow link carries the snapshot many times over' },
  { name: 'keep-tail-after-snapshot', description: 'installing a snapshot drops the conflicting log tail in memory but not on disk: after a restart the stale entries are back' },
  { name: 'ignore-since', description: 'a member that joined re-applies the configuration entries at or below `since` (the join answer\'s applied index) over the configuration it was told: an add-learner of a member promoted since makes it a learner and a voter, and the joiner\'s core stops' },
  { name: 'snapshot-forgets-since', description: 'a snapshot taken by a member that joined, below its since, is restored (after a restart, or sent to a follower) as the configuration of the snapshot\'s index: the configuration entries up to since are applied again over a configuration that holds them, and the core stops' },
  { name: 'status-hides-since', description: 'a member that joined and has applied less than its since shows its told configuration as that of its applied index: a join answer it gives tells since = its applied index with a later configuration, and the member that joins from it applies the configuration entries in between again' },
  { name: 'demote-at-once', description: 'a voter demoted through a joint change becomes a learner on entering the joint configuration, not on leaving it: C_old loses its vote at once (no learnersNext)' },
  { name: 'forget-config-point', description: 'the commit index is never made durable when it passes a configuration entry (it is written only along with something else): after a voter was removed and stopped for good and the whole cluster lost power, the members restart below the removal, in a configuration whose quorum needs the removed member, and no one can lead' },
  { name: 'heartbeat-responses-wait-for-save', description: 'a follower\'s heartbeat responses wait for its Ready\'s persist (and for the next Ready while one is being saved): a follower whose saves are slow answers no heartbeat for that long, and a leader that needs it for its quorum steps down at each check; with six voters, two of them down and a joiner catching up, no leader lasts' },
  { name: 'heartbeats-wait-for-save', description: 'a leader\'s heartbeats wait for the next Ready while one is being saved: a save that waits behind a snapshot\'s fsyncs on a slow disk outlasts the followers\' election timeout, and the leader is deposed at its snapshots' },
  { name: 'peer-down-cuts-lease', description: 'a follower told that its leader\'s connections closed campaigns at once under lease-based reads too: the leader may live on behind a reset connection, serving reads from the lease that follower promised it, while a new leader commits writes' },
  { name: 'votes-from-non-members', description: 'takes vote requests from candidates its configuration gives no vote: a removed member that never learnt of its removal campaigns with ever higher terms (without pre-vote and check-quorum) and deposes every leader' },
  { name: 'silent-to-stale-leader', description: 'without pre-vote and check-quorum, does not answer appends and heartbeats of an older term (as etcd): a learner whose term a removed member\'s vote request raised ignores its leader for good, and a leader that needs it for its quorum commits nothing' },
  { name: 'silent-to-stale-candidate', description: 'does not answer a vote request of an older term from a candidate its configuration gives no vote (as etcd answers none): that candidate, to which this member never campaigns, never learns the term, and the two, hearing nothing else from each other (one behind a configuration that leaves the other out), campaign on, terms apart, with no leader for good' },
] as const satisfies readonly MutantInfo[];

export type RaftMutant = (typeof RAFT_MUTANTS)[number]['name'];

export function isMutant(active: string, name: RaftMutant): boolean {
  return active === name;
}

export function assertKnownMutant(name: string): asserts name is RaftMutant {
  assertListedMutant(RAFT_MUTANTS, 'raft', name);
}
