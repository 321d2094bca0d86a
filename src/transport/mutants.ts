/**
 * Deliberately broken variants of the peer transport, switched on only through
 * TransportOptions.mutant (test-only). The simulator models the transport's admission of members
 * (Simulation.peerViews) and honours these too, so that it must catch them with its own faults.
 */
import type { MutantInfo } from '../core/replica.js';

export const TRANSPORT_MUTANTS = [
  { name: 'refuse-unknown-peers', description: 'the transport refuses every member its peer set does not show (as before 2026-12-07), not only those known to be removed: a member whose configuration is behind another\'s addition refuses the new member\'s connections and can never learn of it from it (two voters left, one behind the other\'s add: no one leads)' },
] as const satisfies readonly MutantInfo[];

export type TransportMutant = (typeof TRANSPORT_MUTANTS)[number]['name'];
