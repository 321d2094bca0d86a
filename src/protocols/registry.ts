/**
 * Protocols by name: the simulator, the node runtime and the CLI look a protocol up here and
 * see only the Replica contract. Adding a protocol is one entry.
 */
import type { ProtocolDefinition } from '../core/replica.js';
import { raftProtocol } from './raft/index.js';
import { multiPaxosProtocol } from './paxos/index.js';
import { pbftProtocol } from './pbft/index.js';

export const PROTOCOLS: ReadonlyMap<string, ProtocolDefinition> = new Map<string, ProtocolDefinition>([
  [raftProtocol.name, raftProtocol as unknown as ProtocolDefinition],
  [multiPaxosProtocol.name, multiPaxosProtocol as unknown as ProtocolDefinition],
  [pbftProtocol.name, pbftProtocol as unknown as ProtocolDefinition],
]);

export function protocolByName(name: string): ProtocolDefinition {
  const p = PROTOCOLS.get(name);
  if (p === undefined) throw new Error(`unknown protocol '${name}'; known: ${[...PROTOCOLS.keys()].join(', ')}`);
  return p;
}
