/**
 * Test harness: one in-process member (Raft) on ports the system hands out, its log lines kept,
 * and its etcd_server_proposals_failed_total read from /metrics.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMember, type Member } from '../../src/server/index.js';
import { freePort } from './process-cluster.js';

export interface Logged { level: string; message: string; fields: Record<string, unknown> }

export async function oneMember(token: string, options: { readonly quotaBackendBytes?: number } = {}) {
  const [client, peer] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), `quorate-${token}-`));
  const logged: Logged[] = [];
  const member: Member = await startMember({
    name: 'm1', dataDir: join(dir, 'm1'), listenClientUrls: [`http://127.0.0.1:${client}`], advertiseClientUrls: [`http://127.0.0.1:${client}`],
    listenPeerUrls: [`http://127.0.0.1:${peer}`], initialAdvertisePeerUrls: [`http://127.0.0.1:${peer}`], initialCluster: `m1=http://127.0.0.1:${peer}`,
    initialClusterState: 'new', initialClusterToken: token, clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50,
    electionTimeoutMs: 500, maxRequestBytes: 1 << 20, maxTxnOps: 128, ...options,
    logger: (level, message, fields) => logged.push({ level, message, fields: fields ?? {} }),
  });
  const failedProposals = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${client}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    return Number(text.split('\n').find((l) => l.startsWith('etcd_server_proposals_failed_total '))?.split(' ')[1] ?? 0);
  };
  return {
    member, address: `127.0.0.1:${client}`, failedProposals,
    /** The warnings logged so far whose message matches. */
    warnings: (message: RegExp) => logged.filter((l) => l.level === 'warn' && message.test(l.message)),
    async close() {
      await member.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
