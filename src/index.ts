// Public API of the quorate package.
export * from './core/index.js';
export * from './protocols/raft/index.js';
export {
  multiPaxosProtocol, MultiPaxosReplica, PAXOS_MUTANTS, DecreeAcceptor, DecreeProposer, DecreeLearner,
  makeBallot, ballotCounter, ballotRank, quorumSizes, InvalidQuorumConfig, DEFAULT_PAXOS_LIMITS,
  type MultiPaxosOptions, type MultiPaxosStatus, type PaxosMessage, type PaxosHardState, type Ballot, type PaxosLimits,
} from './protocols/paxos/index.js';
export { PROTOCOLS, protocolByName } from './protocols/registry.js';
export * from './check/index.js';
export { runSeed, failed, type SeedReport } from './sim/run.js';
export { DEFAULT_SIM_OPTIONS, FAULT_KINDS, type FaultKind, type SimOptions } from './sim/options.js';
export { RegisterKv, encodeCommand, type RegisterOp, type RegisterResult, type SessionCommand } from './statemachine/register-kv.js';
export * from './node/index.js';
export { DurableStorage, StorageCorruptError } from './storage/index.js';
export { PeerTransport, DEFAULT_TRANSPORT_LIMITS, type PeerAddress } from './transport/index.js';
export { type PeerTls } from './transport/index.js';
export * from './statemachine/mvcc/index.js';
export * from './server/index.js';
// PBFT and its lab.
export { PbftReplica, pbftProtocol, PBFT_MUTANTS, signRequest, type ClientRequest, type PbftMessage, type PbftOptions, type PbftReady, type PbftReply, type PbftStatus } from './protocols/pbft/index.js';
export { CryptoAuthenticator, deriveKeys, type CryptoKeys } from './node/crypto-authenticator.js';
export { BftKeyError, bftCryptoKeys, generateKeyFiles, generateMemberKeys, loadBftKeyMaterial, parsePrivateKeyFile, parsePublicKeysFile, principalMember, type BftKeyMaterial, type BftKeyProblem, type KeyFiles, type MemberPrivateKeys, type MemberPublicKeys } from './node/bft-keys.js';
export { BftNode, type BftNodeOptions } from './node/bft-node.js';
export { BftClient, type Accepted } from './protocols/pbft/client.js';
export { PbftHost, type ServiceAdapter } from './protocols/pbft/host.js';
export { SimKeyring } from './sim/sim-authenticator.js';
export { BYZANTINE_KINDS, type ByzantineKind } from './sim/byzantine.js';
