/**
 * Deliberately broken variants of Paxos, switched on only through ReplicaOptions.mutant. The
 * scenario tests and the simulator must catch every one.
 */
import type { MutantInfo } from '../../core/replica.js';

export const PAXOS_MUTANTS = [
  { name: 'ignore-prior-accepted', description: 'after phase 1 the proposer ignores the values acceptors report and proposes its own (breaks P2c)' },
  { name: 'accept-before-persist', description: 'an acceptor answers Accepted before its acceptance is durable: after a crash it forgets a vote that helped choose a value' },
  { name: 'count-listed-acks-only', description: 'the leader counts an acceptor for a slot only when an Accepted lists it, not when its reported match covers it: once that Accepted is lost the leader thinks the acceptor up to date, never resends, and the slot is never chosen' },
  { name: 'unbounded-accept-batches', description: 'an Accept batch counts slots but not bytes: a batch of large values outgrows the transport\'s frame, is refused on every resend, and replication to that acceptor stalls for good' },
  { name: 'unbounded-promises', description: 'a Promise carries every accepted slot in one message: after a backlog of large values it outgrows the transport\'s frame, is refused on every try, and no new leader is ever elected' },
] as const satisfies readonly MutantInfo[];

export type PaxosMutant = (typeof PAXOS_MUTANTS)[number]['name'];

export function assertKnownPaxosMutant(name: string): asserts name is PaxosMutant {
  if (!PAXOS_MUTANTS.some((m) => m.name === name)) {
    throw new Error(`unknown paxos mutant '${name}'; known: ${PAXOS_MUTANTS.map((m) => m.name).join(', ')}`);
  }
}
