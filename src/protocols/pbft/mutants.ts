/**
 * Deliberately broken variants of PBFT, switched on only through ReplicaOptions.mutant. Each
 * removes one thing the protocol needs; scenario tests and the Byzantine simulator must catch
 * every one.
 */
import type { MutantInfo } from '../../core/replica.js';

export const PBFT_MUTANTS = [
  { name: 'skip-authentication', description: 'trusts the sender named in a message: MACs and signatures are not verified' },
  { name: 'no-prepare-phase', description: 'commits as soon as the pre-prepare arrives; a view change sees only pre-prepares, not prepared certificates' },
  { name: 'execute-when-prepared', description: 'executes a request once prepared, without the commit phase' },
  { name: 'forget-on-restart', description: 'ignores its durable state when it restarts: it comes back in view 0 with no record of what it accepted, prepared or committed' },
  { name: 'trust-fetched-batches', description: 'takes a batch re-issued by digest (in a NEW-VIEW) from whoever sends it, without checking it against the digest and its clients\' signatures: a liar makes honest replicas execute a forged request' },
  { name: 'execute-duplicates', description: 'executes a request again when a faulty primary orders it again (at or below its client\'s last executed timestamp)' },
  { name: 'count-own-commit-early', description: 'counts its own COMMIT towards the 2f + 1 before its prepared certificate is durable: the driver executes the batch while the write is in flight, a power loss makes the replica forget the certificate, and a view change without it (a liar hiding its own) re-issues the sequence number as a null request' },
  { name: 'small-read-quorum', description: 'its client accepts a read-only result on 2f + 1 matching replies even when the replicas\' quorum is larger (N not 3f + 1): a read from before a completed write' },
  { name: 'no-learning-in-view-change', description: 'a replica in a view change (or behind in view) ignores the COMMITs of the view it left: one that gave up alone on a primary the others keep executes nothing, and serves its callers nothing, until the next view change' },
  { name: 'status-only-when-pending', description: 'sends STATUS on its periodic announcement only while it has requests pending: a replica that restarted into a quiet cluster and lost its first STATUS stays behind' },
] as const satisfies readonly MutantInfo[];

export type PbftMutant = (typeof PBFT_MUTANTS)[number]['name'];

export function assertKnownPbftMutant(name: string): asserts name is PbftMutant {
  if (!PBFT_MUTANTS.some((m) => m.name === name)) {
    throw new Error(`unknown pbft mutant '${name}'; known: ${PBFT_MUTANTS.map((m) => m.name).join(', ')}`);
  }
}
