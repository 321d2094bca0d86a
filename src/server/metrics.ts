/**
 * Prometheus metrics of one member, named after etcd's so dashboards and alerts written for etcd
 * read them unchanged. Each member has its own registry (several members may share a process).
 *
 * What each one measures here:
 * - etcd_server_has_leader, etcd_server_is_leader, etcd_server_is_learner, etcd_server_leader_changes_seen_total;
 * - etcd_server_proposals_committed_total / _applied_total: the protocol's commit and applied index;
 *   etcd_server_proposals_pending: proposals waiting for their result on this member;
 *   etcd_server_proposals_failed_total: client writes answered with an error, and the services'
 *   own proposals that did not commit (a lock key not deleted, an alarm not raised: see
 *   EtcdServer.counted; one that committed and was refused at apply is not counted, as in etcd);
 * - etcd_disk_wal_fsync_duration_seconds: each datasync of a WAL segment, timed by the storage
 *   layer itself (one per group commit, and those of segment rotations and log compactions), so
 *   it is filled under every protocol: whatever persists through the node's WAL is counted;
 * - etcd_disk_backend_commit_duration_seconds: applying one batch of committed entries to the
 *   in-memory MVCC store (quorate's backend; its durable form is the WAL and snapshots);
 * - etcd_mvcc_db_total_size_in_bytes / _in_use_in_bytes: see quota.ts;
 * - etcd_debugging_mvcc_watcher_total: open watchers (the Watch service reports them);
 * - etcd_server_quota_backend_bytes;
 * - quorate_peer_down_campaigns_total: elections started at once because the leader's connections
 *   closed (the protocol's peerDownCampaigns counter; 0 under a protocol without the fast path).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BackendQuota } from './quota.js';
import type { MemberContext } from './member-context.js';

/** etcd's buckets: 1 ms doubling up to about 8 s. */
const DISK_BUCKETS_SECONDS = Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i);

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly proposalsFailed: Counter;
  private watcherCount: () => number = () => 0;
  private readonly detach: () => void;

  constructor(ctx: MemberContext, quota: BackendQuota) {
    const r = [this.registry];
    const node = ctx.node;
    new Gauge({ name: 'etcd_server_has_leader', help: 'Whether or not a leader exists. 1 is existence, 0 is not.', registers: r,
      collect() { this.set(node.status().leader === null ? 0 : 1); } });
    new Gauge({ name: 'etcd_server_is_leader', help: 'Whether or not this member is a leader. 1 if is, 0 otherwise.', registers: r,
      collect() { this.set(node.isLeader() ? 1 : 0); } });
    new Gauge({ name: 'etcd_server_is_learner', help: 'Whether or not this member is a learner. 1 if is, 0 otherwise.', registers: r,
      collect() { this.set(node.status().membership.learners.includes(node.id) ? 1 : 0); } });
    const leaderChanges = new Counter({ name: 'etcd_server_leader_changes_seen_total', help: 'The number of leader changes seen.', registers: r });
    new Gauge({ name: 'etcd_server_proposals_committed_total', help: 'The total number of consensus proposals committed.', registers: r,
      collect() { this.set(node.status().commitIndex); } });
    new Gauge({ name: 'etcd_server_proposals_applied_total', help: 'The total number of consensus proposals applied.', registers: r,
      collect() { this.set(node.status().appliedIndex); } });
    new Gauge({ name: 'etcd_server_proposals_pending', help: 'The current number of pending proposals to commit.', registers: r,
      collect() { this.set(node.pendingProposals()); } });
    this.proposalsFailed = new Counter({ name: 'etcd_server_proposals_failed_total', help: 'The total number of failed proposals seen.', registers: r });
    const walFsync = new Histogram({ name: 'etcd_disk_wal_fsync_duration_seconds', help: 'The latency distributions of fsync called by WAL.', buckets: DISK_BUCKETS_SECONDS, registers: r });
    const backendCommit = new Histogram({ name: 'etcd_disk_backend_commit_duration_seconds', help: 'The latency distributions of commit called by backend.', buckets: DISK_BUCKETS_SECONDS, registers: r });
    new Gauge({ name: 'etcd_mvcc_db_total_size_in_bytes', help: 'Total size of the underlying database physically allocated in bytes.', registers: r,
      collect() { this.set(quota.size()); } });
    new Gauge({ name: 'etcd_mvcc_db_total_size_in_use_in_bytes', help: 'Total size of the underlying database logically in use in bytes.', registers: r,
      collect() { this.set(quota.inUse()); } });
    new Gauge({ name: 'etcd_server_quota_backend_bytes', help: 'Current backend storage quota size in bytes.', registers: r,
      collect() { this.set(quota.quotaBytes); } });
    new Gauge({ name: 'quorate_peer_invalid_messages_total', help: 'Peer messages dropped because they failed the message schema.', registers: r,
      collect() { this.set(node.invalidPeerMessages()); } });
    new Gauge({ name: 'quorate_peer_auth_failures_total', help: 'Peer connections refused because they did not prove the cluster secret.', registers: r,
      collect() { this.set(node.transportStats()?.counters.authFailures ?? 0); } });
    new Gauge({ name: 'quorate_peer_frame_mac_failures_total', help: 'Peer connections closed because a frame after the handshake failed its MAC (with a peer secret).', registers: r,
      collect() { this.set(node.transportStats()?.counters.frameMacFailures ?? 0); } });
    new Gauge({ name: 'quorate_peer_refused_frames_total', help: 'Peer connections closed for a malformed frame or a frame claiming another sender.', registers: r,
      collect() { const c = node.transportStats()?.counters; this.set(c === undefined ? 0 : c.malformedFrames + c.forgedSender); } });
    new Gauge({ name: 'quorate_peer_connections_refused_total', help: 'Peer connections not yet authenticated closed to take a newer one: maxPendingConnections were pending.', registers: r,
      collect() { this.set(node.transportStats()?.counters.pendingConnectionsRefused ?? 0); } });
    new Gauge({ name: 'quorate_peer_handshake_timeouts_total', help: 'Peer connections closed because they did not authenticate within handshakeTimeoutMs of being accepted.', registers: r,
      collect() { this.set(node.transportStats()?.counters.handshakeTimeouts ?? 0); } });
    new Gauge({ name: 'quorate_peer_idle_connections_closed_total', help: 'Authenticated peer connections closed: no frame for idleTimeoutMs, or an older one of a member over maxConnectionsPerPeer (without member keys of its own, as with --bft-insecure-keys-from-token, an idle one only).', registers: r,
      collect() { const c = node.transportStats()?.counters; this.set(c === undefined ? 0 : c.idleConnectionsClosed + c.excessConnectionsClosed); } });
    new Gauge({ name: 'quorate_peer_identity_failures_total', help: 'Peer connections refused because they did not sign the challenge with the key of the member they named (with member keys; over TLS, bound to the TLS connection), or because their TLS certificate does not name that member (with peer TLS).', registers: r,
      collect() { this.set(node.transportStats()?.counters.identityFailures ?? 0); } });
    new Gauge({ name: 'quorate_peer_live_connections_refused_total', help: 'Peer connections refused because their member held maxConnectionsPerPeer links, each live (without member keys a newer link never closes a live one).', registers: r,
      collect() { this.set(node.transportStats()?.counters.liveConnectionsRefused ?? 0); } });
    new Gauge({ name: 'quorate_peer_down_campaigns_total', help: 'Elections this member started at once, without waiting for its election timeout, because every connection with its leader closed (the leader\'s process died, its host reset the connection). Never with lease-based reads.', registers: r,
      collect() { this.set(node.status().counters?.peerDownCampaigns ?? 0); } });
    const metrics = this;
    new Gauge({ name: 'etcd_debugging_mvcc_watcher_total', help: 'Total number of watchers.', registers: r,
      collect() { this.set(metrics.watcherCount()); } });

    let lastLeader: string | null = node.status().leader;
    const onLeader = (s: { leader: string | null }): void => {
      if (s.leader !== null && s.leader !== lastLeader) leaderChanges.inc();
      lastLeader = s.leader;
    };
    if (lastLeader !== null) leaderChanges.inc();
    const onFsync = (seconds: number): void => walFsync.observe(seconds);
    const onApply = (seconds: number): void => backendCommit.observe(seconds);
    node.on('leader', onLeader);
    node.on('wal-fsync', onFsync);
    node.on('apply-batch', onApply);
    this.detach = () => {
      node.off('leader', onLeader);
      node.off('wal-fsync', onFsync);
      node.off('apply-batch', onApply);
    };
  }

  proposalFailed(): void {
    this.proposalsFailed.inc();
  }

  /** Where the number of open watchers comes from (the watch service sets it). */
  setWatcherCount(count: () => number): void {
    this.watcherCount = count;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.detach();
  }
}
