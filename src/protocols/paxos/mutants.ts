/**
 * Deliberately broken variants of Paxos, switched on only through ReplicaOptions.mutant. The
 * scenario tests and the simulator must catch every one.
 */
import type { MutantInfo } from '../../core/replica.js';
import { assertListedMutant } from '../../core/mutants.js';

export const PAXOS_MUTANTS = [
  { name: 'ignore-prior-accepted', description: 'after phase 1 the proposer ignores the values acceptors report and proposes its own (breaks P2c)' },
  { name: 'accept-before-persist', description: 'an acceptor answers Accepted before its acceptance is durable: after a crash it forgets a vote that helped choose a value' },
  { name: 'count-listed-acks-only', description: 'the leader counts an acceptor for a slot only when an Accepted lists it, not when its reported match covers it: once that Accepted is lost the leader thinks the acceptor up to date, never resends, and the slot is never chosen' },
  { name: 'unbounded-accept-batches', description: 'an Accept batch counts slots but not bytes: a batch of large values outgrows the transport\'s frame, is refused on every resend, and replication to that acceptor stalls for good' },
  { name: 'promise-carries-snapshot', description: 'an acceptor that compacted slots a new proposer does not know are chosen promises anyway and sends its whole snapshot in the Promise: a message with no byte bound, which a transport refuses once the state outgrows its frame' },
  { name: 'restart-transfer-on-compaction', description: 'a snapshot transfer under way starts over with the newest snapshot each time the leader compacts again: with a large state compacted often, a lagging acceptor never installs one' },
  { name: 'rewind-on-stale-ack', description: 'a snapshot transfer goes back to whatever offset an acknowledgement names, also one overtaken by a later acknowledgement: with reordered or duplicated acknowledgements each resent window draws more, and the transfer becomes a message storm' },
  { name: 'late-chunk-clears-incoming', description: 'a late chunk of a snapshot transfer already overtaken (of a snapshot known chosen, or a first chunk of an older one the leader abandoned) throws away the newer snapshot being received: its progress is lost and the transfer starts over' },
  { name: 'mixed-transfer-bytes', description: 'an acceptor joins chunks of two leaders\' transfers of the same snapshot index and installs the result unchecked: when their encodings differ it installs a corrupt state' },
  { name: 'keep-overtaken-transfer', description: 'a partial snapshot transfer the log overtook (the commit point passed its index through Accepts) is kept: up to a window of bytes held for ever' },
  { name: 'keep-silent-transfer', description: 'a leader keeps a transfer\'s old snapshot for an acceptor that is down however long it is silent: it holds the old data, and the returning acceptor takes the old snapshot and then the new one' },
  { name: 'unbounded-promises', description: 'a Promise carries every accepted slot in one message: after a backlog of large values it outgrows the transport\'s frame, is refused on every try, and no new leader is ever elected' },
  { name: 'no-stickiness', description: 'an acceptor promises any higher ballot even while it hears from a live leader, and a leader refused in phase 2 by a higher promise steps down: a node that rejoins with a ballot raised while it was cut off deposes a healthy leader' },
  { name: 'forget-promisers', description: 'a new leader counts nobody as heard for its first quorum check, not even the acceptors that just promised: on disks slower than an election timeout every new leader steps down at its first check, before an Accepted can come back, and the cluster never keeps a leader' },
  { name: 'rerun-against-live-leader', description: 'a leader refused in phase 2 by an acceptor that names another live leader (it was cut off or paused, and the others elected one meanwhile) runs phase 1 again above that leader\'s ballot instead of stepping down: back, it makes the live leader run phase 1 again and drop the reads it had pending' },
  { name: 'heartbeat-resends-window', description: 'a heartbeat resends a stalled acceptor every slot from its contiguous match on (up to maxCatchUpSlotsPerHeartbeat), also those it acknowledged past a lost Accept: one lost Accept costs the whole window again' },
  { name: 'phase1-ignores-new-config', description: 'a new leader wins phase 1 with a quorum of the configuration at its commit point only, ignoring the configuration entries its promises show above it: values chosen by a quorum of a newer configuration are missed and replaced' },
  { name: 'forget-config-point', description: 'the commit point is never made durable when it passes a configuration entry: a member whose state machine does not persist itself restarts at its snapshot, with that configuration, and phase 1 from there needs a quorum of every configuration entry after it; after the members were replaced and the whole cluster restarted, the removed ones are gone and no one can lead' },
  { name: 'stale-timeout-now', description: 'a transfer\'s target campaigns on a timeout-now that arrives after the leader abandoned the transfer and took proposals again: a delayed message deposes the live leader past the leases' },
  { name: 'told-config-campaigns', description: 'a member that joined campaigns with the configuration it was told (the join answer) as the one at its commit point 0: a quorum of it whose logs lack the first slots (their first Accept lost) makes it the leader, and it fills slots chosen by the older configurations with no-ops' },
  { name: 'ack-beyond-proposed', description: 'a leader counts an acceptor\'s acknowledgement (its match, which starts from its own commit point) for slots the leader has not proposed yet: a leader behind an acceptor\'s commit point commits past its own last slot and stops on an assertion' },
  { name: 'snapshot-forgets-since', description: 'a snapshot whose configuration holds at a later slot (a joiner\'s, taken below the since it was told) is taken, restored or installed, for the configuration of its own slot: the member believes it knows the configuration at its commit point and campaigns with a quorum of the told configuration, which the older configurations that chose the slots above it need not meet' },
  { name: 'learners-vote', description: 'a leader counts a learner\'s acceptance in phase 2 (and its answers for checkQuorum) as a voter\'s: with voters demoted to learners, a minority of the voters and the learners choose values that a quorum of the voters, electing another leader, never sees' },
  { name: 'heartbeats-wait-for-save', description: 'a leader\'s heartbeats (empty Accepts) wait for the next Ready while one is being saved: a save that waits behind a snapshot\'s fsyncs on a slow disk outlasts the acceptors\' election timeout, and the leader is deposed at its snapshots' },
  { name: 'behind-candidate-stays-behind', description: 'a candidate refused for being behind acceptors\' snapshots stands down and never pulls the state it lacks: when those acceptors are learners (voters demoted, who alone know the leave-joint slot is chosen) no voter catches up and no one ever leads' },
  { name: 'rejoin-takes-old-config', description: 'a member that joined (told the configuration of slot since) takes the configuration entries chosen at or below its since when the leader sends it the log from slot 1: it goes back to an older configuration, and when the leader was itself added after those entries (a member replaced with a new id, then leading) the joiner drops it as a peer and never receives the slots that would bring it back: it never catches up' },
] as const satisfies readonly MutantInfo[];

export type PaxosMutant = (typeof PAXOS_MUTANTS)[number]['name'];

export function assertKnownPaxosMutant(name: string): asserts name is PaxosMutant {
  assertListedMutant(PAXOS_MUTANTS, 'paxos', name);
}
