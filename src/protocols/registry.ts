/**
 * Protocols by name: the simulator, the node runtime, the server and the CLI look a protocol up
 * here and see only its ProtocolDefinition. Adding a protocol is its folder and one line below.
 */
import type { ProtocolDefinition } from '../core/protocol.js';
import { raftProtocol } from './raft/index.js';
import { multiPaxosProtocol } from './paxos/index.js';
import { pbftProtocol } from './pbft/index.js';
import { vrProtocol } from './vr/index.js';

// The public pieces of each protocol, for the package's users (src/index.ts re-exports this file).
export * from './raft/index.js';
export {
  multiPaxosProtocol, MultiPaxosReplica, PAXOS_MUTANTS, DecreeAcceptor, DecreeProposer, DecreeLearner,
  makeBallot, ballotCounter, ballotRank, quorumSizes, InvalidQuorumConfig, DEFAULT_PAXOS_LIMITS,
  paxosMessageValidator, validatePaxosMessage, decreeMessageValidator, DEFAULT_PAXOS_MESSAGE_BOUNDS, type PaxosMessageBounds,
  type MultiPaxosOptions, type MultiPaxosStatus, type PaxosMessage, type PaxosHardState, type Ballot, type PaxosLimits,
} from './paxos/index.js';
export {
  PbftReplica, pbftProtocol, PBFT_MUTANTS, signRequest, BftClient, PbftHost, BYZANTINE_KINDS,
  pbftMessageValidator, validatePbftMessage, DEFAULT_PBFT_MESSAGE_BOUNDS, type PbftMessageBounds,
  type Accepted, type ByzantineKind, type ClientRequest, type PbftMessage, type PbftOptions, type PbftReady, type PbftReply, type PbftStatus,
} from './pbft/index.js';
export {
  vrProtocol, VrReplica, VR_MUTANTS, DEFAULT_VR_LIMITS, vrMessageValidator, validateVrMessage, DEFAULT_VR_MESSAGE_BOUNDS,
  type VrMessageBounds, type VrHardState, type VrMessage, type VrOptions, type VrStatus, type VrLimits,
} from './vr/index.js';

/** The protocol a member and the simulator run unless told otherwise. */
export const DEFAULT_PROTOCOL = raftProtocol.name;

export const PROTOCOLS: ReadonlyMap<string, ProtocolDefinition> = new Map(
  [raftProtocol, multiPaxosProtocol, pbftProtocol, vrProtocol].map((p) => [p.name, p as unknown as ProtocolDefinition]),
);

export function protocolByName(name: string): ProtocolDefinition {
  const p = PROTOCOLS.get(name);
  if (p === undefined) throw new Error(`unknown protocol '${name}'; known: ${[...PROTOCOLS.keys()].join(', ')}`);
  return p;
}

/** "raft|multipaxos|pbft", for usage texts. */
export function protocolNames(separator = '|'): string {
  return [...PROTOCOLS.keys()].join(separator);
}
