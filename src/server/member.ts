/**
 * One etcd-compatible member: the Raft node on its data directory and peer port, the MVCC KV
 * state machine, and the gRPC server on the client ports. `quorate serve`, the dev cluster
 * and the process tests all start members through here.
 */
import { readFile } from 'node:fs/promises';
import { nodeId } from '../core/ids.js';
import { QuorateError } from '../core/errors.js';
import { ReplicatedNode } from '../node/index.js';
import type { Logger } from '../node/config.js';
import type { PeerTls } from '../transport/index.js';
import { raftProtocol } from '../protocols/raft/index.js';
import { BftNode } from '../node/bft-node.js';
import { pack } from '../core/codec.js';
import { KvStateMachine, type KvOutcome } from '../statemachine/mvcc/index.js';
import { clusterId, loadOrCreateIdentity, parseInitialCluster, parseUrl, type ClusterIdentity } from './cluster-config.js';
import { EtcdServer, type ClientTls } from './etcd-server.js';
import { DEFAULT_RETRY_POLICY } from './retry.js';

export interface MemberOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly initialCluster: string;
  readonly initialClusterState: 'new' | 'existing';
  readonly initialClusterToken: string;
  readonly clientTls: { certFile: string; keyFile: string; trustedCaFile: string | null; clientCertAuth: boolean } | null;
  /** Mutual TLS between members (every member must present a certificate signed by the CA). */
  readonly peerTls: { certFile: string; keyFile: string; trustedCaFile: string } | null;
  /** Entries applied between state machine snapshots (etcd --snapshot-count). */
  readonly snapshotCount: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly logger: Logger;
  /** The consensus protocol under the KV store (default raft). pbft: see the README's trust model. */
  readonly protocol?: 'raft' | 'pbft';
}

export interface Member {
  readonly identity: ClusterIdentity;
  readonly node: ReplicatedNode<KvOutcome> | BftNode<KvOutcome>;
  readonly server: EtcdServer;
  stop(): Promise<void>;
}

export async function startMember(o: MemberOptions): Promise<Member> {
  const members = parseInitialCluster(o.initialCluster, o.initialClusterToken);
  const self = members.find((m) => m.name === o.name);
  if (self === undefined) throw new QuorateError('INVALID_ARGUMENT', `--initial-cluster has no member named '${o.name}' (check --name)`);
  if ([...self.peerUrls].sort().join(',') !== [...o.initialAdvertisePeerUrls].sort().join(',')) {
    throw new QuorateError('INVALID_ARGUMENT', `--initial-advertise-peer-urls (${o.initialAdvertisePeerUrls.join(',')}) does not match '${o.name}' in --initial-cluster (${self.peerUrls.join(',')})`);
  }
  const fromFlags: ClusterIdentity = { format: 1, name: o.name, clusterId: clusterId(members, o.initialClusterToken), token: o.initialClusterToken, members };
  const { identity, created } = await loadOrCreateIdentity(o.dataDir, fromFlags);
  if (created && o.initialClusterState === 'existing') {
    throw new QuorateError('INVALID_ARGUMENT', '--initial-cluster-state existing: joining a running cluster needs MemberAdd, which quorate does not support yet; start every member with "new"');
  }
  o.logger('info', created ? 'starting a new member' : 'restarting a member from its data directory', {
    name: o.name, clusterId: identity.clusterId, memberId: identity.members.find((m) => m.name === o.name)?.id,
  });

  const kv = new KvStateMachine({ maxTxnOps: o.maxTxnOps });
  const listenPeer = parseUrl(o.listenPeerUrls[0] ?? '', '--listen-peer-urls');
  if ((listenPeer.scheme === 'https') !== (o.peerTls !== null)) {
    throw new QuorateError('INVALID_ARGUMENT', 'https:// peer URLs need --peer-cert-file, --peer-key-file and --peer-trusted-ca-file (and those need https:// peer URLs)');
  }
  const peerTls = o.peerTls === null ? null : await loadPeerTls(o.peerTls);
  const node = o.protocol === 'pbft'
    ? await BftNode.start<KvOutcome>({
      id: nodeId(o.name),
      clusterId: identity.clusterId,
      listen: listenPeer,
      members: identity.members.map((m) => ({ id: nodeId(m.name), peer: parseUrl(m.peerUrls[0] ?? '', '--initial-cluster') })),
      stateMachine: kv,
      encodeResult: (r) => pack(r),
      // Every member derives every key from the cluster token: fine for a trial, not against a
      // member that knows the token. A deployment provisions each member's own keys.
      keySecret: `${identity.token}/${identity.clusterId}`,
      tickMs: o.heartbeatIntervalMs,
      pbft: { requestTimeoutTicks: Math.max(2, Math.round(o.electionTimeoutMs / o.heartbeatIntervalMs)), viewChangeTimeoutTicks: Math.max(2, Math.round(o.electionTimeoutMs / o.heartbeatIntervalMs)), retransmitTicks: 2, announceTicks: 10 },
      logger: o.logger,
      peerTls,
    })
    : await ReplicatedNode.start<KvOutcome>({
    id: nodeId(o.name),
    clusterId: identity.clusterId,
    dataDir: o.dataDir,
    listen: listenPeer,
    members: identity.members.map((m) => ({ id: nodeId(m.name), peer: parseUrl(m.peerUrls[0] ?? '', '--initial-cluster') })),
    stateMachine: kv,
    protocol: raftProtocol,
    protocolOptions: {
      electionTimeoutTicks: Math.max(2, Math.round(o.electionTimeoutMs / o.heartbeatIntervalMs)),
      heartbeatIntervalTicks: 1,
      preVote: true,
      checkQuorum: true,
    },
    limits: { tickMs: o.heartbeatIntervalMs, snapshotEveryEntries: o.snapshotCount, maxCommandBytes: o.maxRequestBytes + 4096 },
    logger: o.logger,
    peerTls,
  });

  let server: EtcdServer;
  try {
    const me = identity.members.find((m) => m.name === o.name);
    if (me === undefined) throw new QuorateError('CORRUPT', `member.json in the data directory does not list '${o.name}'`);
    server = await EtcdServer.start({
      node, kv, identity, self: me,
      listen: o.listenClientUrls.map((u) => parseUrl(u, '--listen-client-urls')),
      advertiseClientUrls: o.advertiseClientUrls,
      tls: o.clientTls === null ? null : await loadTls(o.clientTls),
      limits: { maxRequestBytes: o.maxRequestBytes, maxTxnOps: o.maxTxnOps },
      retry: DEFAULT_RETRY_POLICY,
      logger: o.logger,
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

async function loadPeerTls(t: NonNullable<MemberOptions['peerTls']>): Promise<PeerTls> {
  const [cert, key, ca] = await Promise.all([readFile(t.certFile), readFile(t.keyFile), readFile(t.trustedCaFile)]);
  return { cert, key, ca };
}

async function loadTls(t: NonNullable<MemberOptions['clientTls']>): Promise<ClientTls> {
  const [cert, key, ca] = await Promise.all([
    readFile(t.certFile), readFile(t.keyFile), t.trustedCaFile === null ? null : readFile(t.trustedCaFile),
  ]);
  if (t.clientCertAuth && ca === null) throw new QuorateError('INVALID_ARGUMENT', '--client-cert-auth needs --trusted-ca-file');
  return { cert, key, ca, clientCertAuth: t.clientCertAuth };
}
