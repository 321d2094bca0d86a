/**
 * `quorate snapshot restore`: build a member's data directory from a snapshot file saved with
 * `etcdctl snapshot save` (Maintenance.Snapshot), as the first member of a new cluster described
 * by the usual flags. Every member of the new cluster is restored from the same file with the
 * same --initial-cluster and token, so all start from the same state at the same log position.
 * The keys, values and revisions come from the file; members, alarms and client sessions of the
 * old cluster do not, nor does a token key (a file written before snapshots left it out may hold
 * one): with auth enabled, the new cluster draws its own on the first Authenticate, so tokens of
 * the old cluster are not accepted by the new one.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { QuorateError } from '../core/errors.js';
import { nodeId, type Index, type Term } from '../core/ids.js';
import { closeAsync, nodeFileSystem, openDurableStorage, saveAsync } from '../storage/index.js';
import { DEFAULT_PROTOCOL, protocolByName } from '../protocols/registry.js';
import { KvStateMachine } from '../statemachine/mvcc/index.js';
import { clusterId, loadOrCreateIdentity, parseInitialCluster, type ClusterIdentity } from './cluster-config.js';
import { decodeSnapshotFile } from './maintenance-service.js';

/** The log position a restored member starts at (etcd starts its restored log at term 1 too). */
const RESTORED_INDEX = 1 as Index;
const RESTORED_TERM = 1 as Term;

export interface RestoreOptions {
  /** The protocol the restored cluster runs (its registry name; default: the registry's default). */
  readonly protocol?: string;
  readonly snapshotFile: string;
  readonly dataDir: string;
  readonly name: string;
  readonly initialCluster: string;
  readonly initialClusterToken: string;
  readonly initialAdvertisePeerUrls: readonly string[];
}

export async function restoreSnapshot(o: RestoreOptions): Promise<{ revision: number; identity: ClusterIdentity }> {
  const exists = await stat(o.dataDir).then(() => true, () => false);
  if (exists) throw new QuorateError('INVALID_ARGUMENT', `data-dir ${JSON.stringify(o.dataDir)} exists; restore into a new directory`);
  const members = parseInitialCluster(o.initialCluster, o.initialClusterToken);
  const self = members.find((m) => m.name === o.name);
  if (self === undefined) throw new QuorateError('INVALID_ARGUMENT', `--initial-cluster has no member named '${o.name}' (check --name)`);
  if (o.initialAdvertisePeerUrls.length > 0 && [...self.peerUrls].sort().join(',') !== [...o.initialAdvertisePeerUrls].sort().join(',')) {
    throw new QuorateError('INVALID_ARGUMENT', `--initial-advertise-peer-urls does not match '${o.name}' in --initial-cluster`);
  }
  const { stateMachine, revision } = decodeSnapshotFile(await readFile(o.snapshotFile));
  const kv = new KvStateMachine();
  kv.restore(stateMachine);
  kv.resetForNewCluster();
  const protocol = protocolByName(o.protocol ?? DEFAULT_PROTOCOL);
  // Before anything is written: a protocol that cannot start from a snapshot file says why.
  const bootstrap = protocol.bootstrap({
    meta: { index: RESTORED_INDEX, term: RESTORED_TERM, membership: { voters: members.map((m) => nodeId(m.name)), outgoingVoters: [], learners: [] } },
    data: kv.clientSnapshot(),
  });
  const identity: ClusterIdentity = { format: 1, name: o.name, clusterId: clusterId(members, o.initialClusterToken), token: o.initialClusterToken, members };
  await loadOrCreateIdentity(o.dataDir, identity);
  const storage = await openDurableStorage<unknown>(nodeFileSystem, join(o.dataDir, protocol.name));
  try {
    await saveAsync(storage, bootstrap);
  } finally {
    await closeAsync(storage);
  }
  return { revision, identity };
}
