// Public API of the quorate package.
export * from './core/index.js';
// Every protocol, its definition and its public pieces: the registry is the one place that names them.
export * from './protocols/registry.js';
export { Driver, NodeStopped, type DriverOptions, type DriverEvents } from './driver/driver.js';
export { DRIVER_MUTANTS } from './driver/mutants.js';
export type { ClockPort, NetworkPort, StoragePort } from './driver/ports.js';
export * from './check/index.js';
export { runSeed, failed, type SeedReport } from './sim/run.js';
export { DEFAULT_SIM_OPTIONS, FAULT_KINDS, type FaultKind, type SimOptions } from './sim/options.js';
export { FAULTS } from './sim/nemesis.js';
export { RegisterKv, encodeCommand, decodeCommand, type RegisterOp, type RegisterResult, type SessionCommand } from './statemachine/register-kv.js';
export * from './node/index.js';
export { DurableStorage, StorageCorruptError } from './storage/index.js';
export { PeerTransport, DEFAULT_TRANSPORT_LIMITS, type PeerAddress } from './transport/index.js';
export { type PeerTls } from './transport/index.js';
export * from './statemachine/mvcc/index.js';
export * from './server/index.js';
// Keys and the Byzantine lab.
export { CryptoAuthenticator, deriveKeys, type CryptoKeys } from './node/crypto-authenticator.js';
export { BftKeyError, bftCryptoKeys, generateKeyFiles, generateMemberKeys, loadBftKeyMaterial, parsePrivateKeyFile, parsePublicKeysFile, principalMember, type BftKeyMaterial, type BftKeyProblem, type KeyFiles, type MemberPrivateKeys, type MemberPublicKeys } from './node/bft-keys.js';
export { SimKeyring } from './sim/sim-authenticator.js';
