/**
 * One etcd-compatible member: the replicated node (Raft by default, or any protocol in the
 * registry) on its data directory and peer port, the MVCC KV state machine, and the gRPC server
 * on the client ports. `quorate serve`, the dev cluster
 * and the process tests all start members through here.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeId } from '../core/ids.js';
import { QuorateError } from '../core/errors.js';
import { ReplicatedNode } from '../node/index.js';
import type { Logger } from '../node/config.js';
import type { PeerCertMemberBinding, PeerTls } from '../transport/index.js';
import { DEFAULT_PROTOCOL, PROTOCOLS, protocolByName, protocolNames } from '../protocols/registry.js';
import type { Authenticator, Principal } from '../core/authenticator.js';
import { DEFAULT_DRIVER_LIMITS } from '../driver/limits.js';
import { DRIVER_MUTANTS } from '../driver/mutants.js';
import { isServerMutant, SERVER_MUTANTS } from './mutants.js';
import { clientPrincipal } from '../driver/quorum-proposals.js';
import { byzantineFaults } from '../core/quorum.js';
import { BftKeyError, bftCryptoKeys, loadBftKeyMaterial, type KeyFiles } from '../node/bft-keys.js';
import { checkPrivateKeyFile } from '../node/private-key-file.js';
import { CryptoAuthenticator, deriveKeys, type CryptoKeys } from '../node/crypto-authenticator.js';
import { pack } from '../core/codec.js';
import { KvStateMachine, type KvOutcome } from '../statemachine/mvcc/index.js';
import { clusterId, loadOrCreateIdentity, parseInitialCluster, parseUrl, type ClusterIdentity, type MemberConfig } from './cluster-config.js';
import { askToJoin, peerIdentityFromKeys, peerSecretFromFile, type PeerCredentials, type PeerIdentity } from '../transport/index.js';
import type { JoinAnswer } from './membership-runtime.js';
import { access } from 'node:fs/promises';
import { EtcdServer, type ClientTls } from './etcd-server.js';
import { DEFAULT_RETRY_POLICY } from './retry.js';
import type { AutoCompactionOptions } from './auto-compaction.js';

export interface MemberOptions {
  readonly name: string;
  /** The consensus protocol, by its registry name (see `quorate serve --help`). Default: the registry's default. */
  readonly protocol?: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly initialCluster: string;
  readonly initialClusterState: 'new' | 'existing';
  readonly initialClusterToken: string;
  readonly clientTls: { certFile: string; keyFile: string; trustedCaFile: string | null; clientCertAuth: boolean } | null;
  /**
   * Mutual TLS between members (every member must present a certificate signed by the CA), each
   * certificate naming its member as CN unless memberBinding is 'none' (PeerTls.memberBinding).
   */
  readonly peerTls: { certFile: string; keyFile: string; trustedCaFile: string; memberBinding?: PeerCertMemberBinding } | null;
  /**
   * A file holding the cluster's shared peer secret (the same on every member): each peer
   * connection proves it at its handshake. Absent: peers are not authenticated (unless by TLS).
   */
  readonly peerSecretFile?: string;
  /** Entries applied between state machine snapshots (etcd --snapshot-count). */
  readonly snapshotCount: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  /** Lifetime of auth tokens (etcd --auth-token-ttl); DEFAULT_AUTH_TOKEN_TTL_MS unless set. */
  readonly authTokenTtlMs?: number;
  readonly logger: Logger;
  /** Idle watchers that asked for progress notifications get one this often (default 10 minutes). */
  readonly progressNotifyIntervalMs?: number;
  /** etcd --quota-backend-bytes (0 or absent: 2 GiB). */
  readonly quotaBackendBytes?: number;
  /** etcd --auto-compaction-mode/--auto-compaction-retention (null or absent: off). */
  readonly autoCompaction?: AutoCompactionOptions | null;
  /** etcd --experimental-corrupt-check-time in ms (0 or absent: off). */
  readonly corruptCheckIntervalMs?: number;
  /** etcd --listen-metrics-urls: extra plain-HTTP listeners for /health and /metrics. */
  readonly listenMetricsUrls?: readonly string[];
  /**
   * Protocols whose members need keys (Byzantine ones), and required there: this member's
   * private key file and the cluster's public keys file (`quorate keys generate`), or
   * 'insecure-from-token' for a trial (every key derived from the cluster token: anyone with the
   * token can act as any member).
   */
  readonly memberKeys?: KeyFiles | 'insecure-from-token';
  /**
   * Start although a private key file (BFT or TLS) is readable or writable by group or others
   * (serve --allow-insecure-key-permissions); a warning is logged. Default false: refused.
   */
  readonly allowInsecureKeyPermissions?: boolean;
  /** Tests only (serve --unsafe-mutant): a mutant of the protocol or the driver switched on. */
  readonly unsafeMutant?: string;
}

/**
 * The log's limit on a command over --max-request-bytes (which limits the request as the client
 * sent it): a command is the request re-encoded with its field names (about 100 bytes more an
 * operation than the client's protobuf) in a session envelope. etcd's own allowance for the gRPC
 * message over the request (512 KiB); a txn of more than some 5,000 tiny operations near the
 * limit may still exceed it, and is then refused with the same error.
 */
export const COMMAND_OVERHEAD_BYTES = 512 * 1024;

/** Why a member of a Byzantine protocol refuses to start without keys: no silent insecure default. */
export function memberKeysRequired(protocol: string): string {
  return `${protocol} needs each member's own keys: pass --bft-private-key FILE and --bft-public-keys FILE (write them with \`quorate keys generate --names m1,m2,... --out DIR\`), or --bft-insecure-keys-from-token for a trial (insecure: anyone with the cluster token can act as any member)`;
}

export interface Member {
  readonly identity: ClusterIdentity;
  readonly node: ReplicatedNode<KvOutcome>;
  readonly server: EtcdServer;
  stop(): Promise<void>;
}

export async function startMember(o: MemberOptions): Promise<Member> {
  const protocolName = o.protocol ?? DEFAULT_PROTOCOL;
  if (!PROTOCOLS.has(protocolName)) throw new QuorateError('INVALID_ARGUMENT', `unknown --protocol '${protocolName}'; known: ${protocolNames(', ')}`);
  const protocol = protocolByName(protocolName);
  // Before anything is written to the data directory.
  if (protocol.keys === 'per-member' && o.memberKeys === undefined) throw new BftKeyError('missing-keys', memberKeysRequired(protocolName));
  await checkPrivateKeyFiles(o);
  const serverMutant = o.unsafeMutant !== undefined && isServerMutant(o.unsafeMutant) ? o.unsafeMutant : null;
  const coreMutant = serverMutant === null ? o.unsafeMutant : undefined;
  if (o.unsafeMutant !== undefined) {
    const known = [...new Set([...SERVER_MUTANTS.map((m) => m.name), ...protocol.mutants.map((m) => m.name), ...DRIVER_MUTANTS.map((m) => m.name)])];
    if (!known.includes(o.unsafeMutant)) throw new QuorateError('INVALID_ARGUMENT', `--unsafe-mutant: ${protocolName} has no mutant '${o.unsafeMutant}'; known: ${known.join(', ')}`);
    o.logger('warn', `UNSAFE: running with the test-only mutant '${o.unsafeMutant}' switched on: this member breaks safety on purpose`, { mutant: o.unsafeMutant });
  }
  const members = parseInitialCluster(o.initialCluster, o.initialClusterToken);
  const self = members.find((m) => m.name === o.name);
  if (self === undefined) throw new QuorateError('INVALID_ARGUMENT', `--initial-cluster has no member named '${o.name}' (check --name)`);
  if ([...self.peerUrls].sort().join(',') !== [...o.initialAdvertisePeerUrls].sort().join(',')) {
    throw new QuorateError('INVALID_ARGUMENT', `--initial-advertise-peer-urls (${o.initialAdvertisePeerUrls.join(',')}) does not match '${o.name}' in --initial-cluster (${self.peerUrls.join(',')})`);
  }
  const peerTls = o.peerTls === null ? null : await loadPeerTls(o.peerTls);
  const peerSecret = o.peerSecretFile === undefined ? null : await loadPeerSecret(o.peerSecretFile);
  const fromFlags: ClusterIdentity = o.initialClusterState === 'existing' && !(await hasIdentity(o.dataDir))
    ? await identityFromRunningCluster(o.name, self.peerUrls, members.filter((m) => m.name !== o.name), { tls: peerTls, secret: peerSecret }, o.logger)
    : { format: 1, name: o.name, clusterId: clusterId(members, o.initialClusterToken), token: o.initialClusterToken, members };
  const { identity, created } = await loadOrCreateIdentity(o.dataDir, fromFlags);
  const selfNodeId = identity.nodeId ?? o.name;
  o.logger('info', created ? 'starting a new member' : 'restarting a member from its data directory', {
    name: o.name, clusterId: identity.clusterId, memberId: identity.members.find((m) => m.name === selfNodeId)?.id,
  });

  // Each protocol keeps its log in a directory named after it: refuse to start one protocol on
  // another's data (the member would come up empty and rejoin as if it had lost its disk).
  for (const other of PROTOCOLS.keys()) {
    if (other !== protocolName && existsSync(join(o.dataDir, other))) {
      throw new QuorateError('INVALID_ARGUMENT', `${o.dataDir} holds a ${other} log, but this member was started with --protocol ${protocolName}; start it with --protocol ${other}, or use another --data-dir`);
    }
  }
  // Under a Byzantine protocol f + 1 members must agree a lease timed out (see leaseExpiryQuorum).
  const kv = new KvStateMachine({ maxTxnOps: o.maxTxnOps }, {
    leaseExpiryQuorum: protocol.faultModel === 'byzantine' ? byzantineFaults(members.length) + 1 : 1,
    // A member's own member-update keeps its id (see KvStateMachine.applyCluster).
    memberIds: new Map(identity.members.map((m) => [m.name, m.id])),
  });
  const listenPeer = parseUrl(o.listenPeerUrls[0] ?? '', '--listen-peer-urls');
  if ((listenPeer.scheme === 'https') !== (o.peerTls !== null)) {
    throw new QuorateError('INVALID_ARGUMENT', 'https:// peer URLs need --peer-cert-file, --peer-key-file and --peer-trusted-ca-file (and those need https:// peer URLs)');
  }
  const node = await ReplicatedNode.start<KvOutcome>({
    id: nodeId(selfNodeId),
    clusterId: identity.clusterId,
    dataDir: o.dataDir,
    listen: listenPeer,
    members: identity.members.map((m) => ({ id: nodeId(m.name), peer: parseUrl(m.peerUrls[0] ?? '', '--initial-cluster') })),
    learners: (identity.learners ?? []).map((l) => nodeId(l)),
    ...(identity.ranks === undefined ? {} : { ranks: identity.ranks }),
    ...(identity.nextRank === undefined ? {} : { nextRank: identity.nextRank }),
    ...(identity.since === undefined ? {} : { since: identity.since }),
    stateMachine: kv,
    encodeResult: (r) => pack(r),
    protocol,
    // One tick per heartbeat interval, as etcd's raft: the protocol maps the timeouts to ticks.
    timing: { tickMs: o.heartbeatIntervalMs, heartbeatIntervalMs: o.heartbeatIntervalMs, electionTimeoutMs: o.electionTimeoutMs },
    limits: { snapshotEveryEntries: o.snapshotCount, maxCommandBytes: o.maxRequestBytes + COMMAND_OVERHEAD_BYTES },
    logger: o.logger,
    peerTls,
    peerSecret,
    ...(coreMutant === undefined ? {} : { mutant: coreMutant }),
    ...(protocol.keys === 'per-member' ? await memberAuthenticators(o, identity, selfNodeId, protocolName) : {}),
  });

  let server: EtcdServer;
  try {
    const me = identity.members.find((m) => m.name === selfNodeId);
    if (me === undefined) throw new QuorateError('CORRUPT', `member.json in the data directory does not list '${o.name}'`);
    server = await EtcdServer.start({
      node, kv, identity, self: me, mutant: serverMutant,
      listen: o.listenClientUrls.map((u) => parseUrl(u, '--listen-client-urls')),
      advertiseClientUrls: o.advertiseClientUrls,
      tls: o.clientTls === null ? null : await loadTls(o.clientTls),
      limits: { maxRequestBytes: o.maxRequestBytes, maxTxnOps: o.maxTxnOps },
      retry: DEFAULT_RETRY_POLICY,
      ...(o.authTokenTtlMs === undefined ? {} : { authTokenTtlMs: o.authTokenTtlMs }),
      byzantine: protocol.faultModel === 'byzantine',
      logger: o.logger,
      // As etcd: the shortest lease lasts 1.5 election timeouts (rounded up to whole seconds),
      // so a lease cannot run out during one election.
      leaseLimits: { minTtlSeconds: Math.max(1, Math.ceil((1.5 * o.electionTimeoutMs) / 1000)) },
      ...(o.progressNotifyIntervalMs === undefined ? {} : { progressNotifyIntervalMs: o.progressNotifyIntervalMs }),
      ...(o.quotaBackendBytes === undefined ? {} : { quotaBackendBytes: o.quotaBackendBytes }),
      autoCompaction: o.autoCompaction ?? null,
      ...(o.corruptCheckIntervalMs === undefined ? {} : { corruptCheckIntervalMs: o.corruptCheckIntervalMs }),
      memberName: o.name,
      peerTls,
      peerSecret,
      listenMetrics: (o.listenMetricsUrls ?? []).map((u) => {
        const l = parseUrl(u, '--listen-metrics-urls');
        if (l.scheme !== 'http') throw new QuorateError('INVALID_ARGUMENT', '--listen-metrics-urls: only http:// is supported');
        return l;
      }),
      onRemoved: () => node.emit('fatal', new QuorateError('STOPPED', 'this member was removed from the cluster')),
    });
  } catch (err) {
    await node.stop();
    throw err;
  }
  return {
    identity, node, server,
    async stop() {
      await server.stop();
      await node.stop();
    },
  };
}

/** Every private key file the options name, checked before the member does anything (see private-key-file.ts). */
async function checkPrivateKeyFiles(o: MemberOptions): Promise<void> {
  const allow = o.allowInsecureKeyPermissions ?? false;
  const warn = (message: string): void => o.logger('warn', message);
  const refuse = (message: string): Error => new QuorateError('BAD_KEYS', message);
  if (o.clientTls !== null) await checkPrivateKeyFile(o.clientTls.keyFile, '--key-file', allow, refuse, warn);
  if (o.peerTls !== null) await checkPrivateKeyFile(o.peerTls.keyFile, '--peer-key-file', allow, refuse, warn);
  if (o.memberKeys !== undefined && o.memberKeys !== 'insecure-from-token') {
    await checkPrivateKeyFile(o.memberKeys.privateKeyFile, '--bft-private-key', allow, (m) => new BftKeyError('insecure-permissions', m), warn);
  }
}

async function loadPeerSecret(file: string): Promise<Uint8Array> {
  try {
    return peerSecretFromFile(await readFile(file));
  } catch (err) {
    throw new QuorateError('INVALID_ARGUMENT', `--peer-secret-file ${file}: ${(err as Error).message}`);
  }
}

async function loadPeerTls(t: NonNullable<MemberOptions['peerTls']>): Promise<PeerTls> {
  const [cert, key, ca] = await Promise.all([readFile(t.certFile), readFile(t.keyFile), readFile(t.trustedCaFile)]);
  return { cert, key, ca, memberBinding: t.memberBinding ?? 'common-name' };
}

async function loadTls(t: NonNullable<MemberOptions['clientTls']>): Promise<ClientTls> {
  const [cert, key, ca] = await Promise.all([
    readFile(t.certFile), readFile(t.keyFile), t.trustedCaFile === null ? null : readFile(t.trustedCaFile),
  ]);
  if (t.clientCertAuth && ca === null) throw new QuorateError('INVALID_ARGUMENT', '--client-cert-auth needs --trusted-ca-file');
  return { cert, key, ca, clientCertAuth: t.clientCertAuth };
}

/**
 * The authenticator of each principal a member holds keys for (itself and its clients "m#k"):
 * from its provisioned key files, or (opted into) derived from the cluster token; and the peer
 * port's proof of which member a connection comes from (the member's own signing key: see
 * peer-identity.ts), so that no one can open peer links in another member's name. With keys
 * derived from the token that proof is marked shared (PeerIdentity.sharedKeys): anyone holding the
 * token can sign as any member, so a proven link must not close that member's live links. Exported
 * for tests.
 */
export async function memberAuthenticators(o: MemberOptions, identity: ClusterIdentity, self: string, protocolName: string):
  Promise<{ authenticatorFor: (principal: Principal) => Authenticator; peerIdentity: PeerIdentity }> {
  const source = o.memberKeys;
  if (source === undefined) throw new BftKeyError('missing-keys', memberKeysRequired(protocolName));
  const replicas = identity.members.map((m) => m.name);
  const principals = [...replicas, ...replicas.flatMap((r) => Array.from({ length: DEFAULT_DRIVER_LIMITS.quorumClientsPerMember }, (_, k) => clientPrincipal(nodeId(r), k)))];
  let keysFor: (principal: string) => CryptoKeys;
  if (source === 'insecure-from-token') {
    o.logger('warn', 'member keys are derived from the cluster token (--bft-insecure-keys-from-token): anyone with the token can act as any member; for trials only');
    const secret = `${identity.token}/${identity.clusterId}`;
    keysFor = (principal) => deriveKeys(secret, principal, principals);
  } else {
    // Checked at start (checkPrivateKeyFiles), warned about there if allowed: not again here.
    const material = await loadBftKeyMaterial(source, self, replicas, { allowInsecurePermissions: o.allowInsecureKeyPermissions ?? false });
    keysFor = (principal) => bftCryptoKeys(material, principal, principals, identity.clusterId);
  }
  const own = keysFor(self);
  return {
    authenticatorFor: (principal) => new CryptoAuthenticator(keysFor(principal)),
    peerIdentity: peerIdentityFromKeys(own.privateKey, own.publicKeys, { sharedKeys: source === 'insecure-from-token' }),
  };
}

// ---- joining a running cluster ----

/** A joining member asks the running members this long in all before giving up. */
export const JOIN_TIMEOUT_MS = 15_000;
/** Each question to one running member may take this long. */
export const JOIN_QUERY_TIMEOUT_MS = 2_000;

async function hasIdentity(dataDir: string): Promise<boolean> {
  try {
    await access(join(dataDir, 'member.json'));
    return true;
  } catch {
    return false;
  }
}

/**
 * A member started with --initial-cluster-state existing and an empty data directory: ask the
 * running members (their peer URLs are in --initial-cluster) which cluster this is and which
 * member id MemberAdd gave these peer URLs.
 */
async function identityFromRunningCluster(name: string, peerUrls: readonly string[], others: readonly MemberConfig[], credentials: PeerCredentials, log: Logger): Promise<ClusterIdentity> {
  if (others.length === 0) throw new QuorateError('INVALID_ARGUMENT', '--initial-cluster-state existing: --initial-cluster must name the running members too');
  const deadline = Date.now() + JOIN_TIMEOUT_MS;
  let lastError = 'no running member answered';
  while (Date.now() < deadline) {
    for (const m of others) {
      const url = m.peerUrls[0];
      if (url === undefined) continue;
      try {
        const answer = await askToJoin(parseUrl(url, '--initial-cluster'), { peerUrls: [...peerUrls], name }, credentials, JOIN_QUERY_TIMEOUT_MS);
        const joined = identityFromJoinAnswer(name, answer);
        if (typeof joined === 'string') {
          lastError = `${m.name}: ${joined}`;
          continue;
        }
        log('info', 'joining a running cluster', { clusterId: joined.clusterId, nodeId: joined.nodeId });
        return joined;
      } catch (err) {
        lastError = `${m.name}: ${(err as Error).message}`;
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new QuorateError('UNAVAILABLE', `--initial-cluster-state existing: could not join the running cluster (${lastError})`);
}


/**
 * The identity a joiner starts from, from a running member's join answer; or why the answer cannot
 * be used (the joiner then asks another member). An answer without `since` (a member of a build
 * before it) is refused: no index stands in for it for every protocol (Raft would skip the
 * configuration entries up to it for good, Multi-Paxos would take the told configuration for that
 * of every slot up to it and campaign with it).
 */
export function identityFromJoinAnswer(name: string, reply: unknown): ClusterIdentity | string {
  const answer = (typeof reply === 'object' && reply !== null ? reply : {}) as Partial<JoinAnswer> & { error?: unknown };
  if (typeof answer.error === 'string') return answer.error;
  if (typeof answer.clusterId !== 'string' || typeof answer.nodeId !== 'string' || !Array.isArray(answer.members)) return 'malformed answer';
  if (!(Number.isSafeInteger(answer.since) && answer.since! >= 1)) {
    return 'its join answer names no configuration index (since): it runs an older build; upgrade it, or join through an upgraded member';
  }
  return {
    format: 1, name, clusterId: answer.clusterId, token: answer.token ?? '', nodeId: answer.nodeId,
    members: answer.members.map((x) => ({ name: x.nodeId, id: x.id, peerUrls: [...x.peerUrls] })),
    learners: [...(answer.learners ?? [])],
    ...(isRankTable(answer.ranks) ? { ranks: answer.ranks } : {}),
    ...(Number.isSafeInteger(answer.nextRank) ? { nextRank: answer.nextRank } : {}),
    since: answer.since!,
  };
}

/** A join answer's rank table: member id to a positive integer rank. */
function isRankTable(v: unknown): v is Record<string, number> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((r) => Number.isSafeInteger(r) && (r as number) >= 1);
}
