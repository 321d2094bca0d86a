/**
 * The static description of a cluster, from etcd-style flags: member names, peer URLs, the
 * cluster token; member and cluster ids derived from them the same way on every member, so
 * all members agree on the ids without talking to each other.
 *
 * On the first start a member writes its identity (member.json) into its data directory; on
 * later starts that file wins over the flags, as etcd's member directory does, so a restart
 * with different --initial-cluster flags cannot silently join the node to another cluster.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeId, type NodeId } from '../core/ids.js';
import { QuorateError } from '../core/errors.js';
import type { PeerAddress } from '../transport/index.js';

export interface MemberConfig {
  readonly name: string;
  /** etcd's 64-bit member id, as a decimal string (exact beyond 2^53). */
  readonly id: string;
  readonly peerUrls: readonly string[];
}

export interface ClusterIdentity {
  readonly format: 1;
  readonly name: string;
  readonly clusterId: string;
  readonly token: string;
  readonly members: readonly MemberConfig[];
  /**
   * This member's id inside the consensus protocol when it is not its name (a member that joined
   * a running cluster gets one from the cluster; `members` then name members by protocol id).
   */
  readonly nodeId?: string;
  /** Learners of the configuration this member bootstrapped with (a member that joined). */
  readonly learners?: readonly string[];
  /**
   * Ballot ranks of that configuration (Membership.ranks and nextRank: protocols that rank their
   * members, when the ranks differ from the default), as the member that answered held them.
   */
  readonly ranks?: Readonly<Record<string, number>>;
  readonly nextRank?: number;
  /** The index the configuration the join answer told holds at (the answering member's applied index, or later): Membership.since. */
  readonly since?: number;
}

/** `m1=http://127.0.0.1:2380,m2=http://127.0.0.1:22380` → members (one name may repeat for several URLs). */
export function parseInitialCluster(spec: string, token: string): MemberConfig[] {
  const urls = new Map<string, string[]>();
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) throw new QuorateError('INVALID_ARGUMENT', `--initial-cluster: expected name=url, got '${part}'`);
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    parseUrl(url, '--initial-cluster');
    urls.set(name, [...(urls.get(name) ?? []), url]);
  }
  if (urls.size === 0) throw new QuorateError('INVALID_ARGUMENT', '--initial-cluster names no member');
  return [...urls].map(([name, peerUrls]) => ({ name, id: memberId(name, peerUrls, token), peerUrls }));
}

function hash64(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  return digest.readBigUInt64BE(0).toString();
}

export function memberId(name: string, peerUrls: readonly string[], token: string): string {
  return hash64(`member\n${name}\n${[...peerUrls].sort().join(',')}\n${token}`);
}

export function clusterId(members: readonly MemberConfig[], token: string): string {
  return hash64(`cluster\n${members.map((m) => m.id).sort().join(',')}\n${token}`);
}

/** The protocol-level identity of a member: its name (unique in a cluster, readable in logs). */
export function memberNodeId(member: MemberConfig): NodeId {
  return nodeId(member.name);
}

export function parseUrl(url: string, flag: string): PeerAddress & { readonly scheme: 'http' | 'https' } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new QuorateError('INVALID_ARGUMENT', `${flag}: '${url}' is not a URL (expected e.g. http://127.0.0.1:2380)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new QuorateError('INVALID_ARGUMENT', `${flag}: '${url}' must use http:// or https://`);
  if (u.port === '') throw new QuorateError('INVALID_ARGUMENT', `${flag}: '${url}' names no port`);
  return { scheme: u.protocol === 'https:' ? 'https' : 'http', host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

const IDENTITY_FILE = 'member.json';

/**
 * The identity this member runs with: the stored one if the data directory has it, otherwise
 * the one the flags describe (written durably before the node starts).
 */
export async function loadOrCreateIdentity(dataDir: string, fromFlags: ClusterIdentity): Promise<{ identity: ClusterIdentity; created: boolean }> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, IDENTITY_FILE);
  let stored: ClusterIdentity | null = null;
  try {
    stored = JSON.parse(await readFile(path, 'utf8')) as ClusterIdentity;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new QuorateError('CORRUPT', `cannot read ${IDENTITY_FILE} in the data directory: ${(err as Error).message}`);
  }
  if (stored !== null) {
    if (stored.name !== fromFlags.name) {
      throw new QuorateError('INVALID_ARGUMENT', `the data directory belongs to member '${stored.name}', not '${fromFlags.name}' (check --name and --data-dir)`);
    }
    return { identity: stored, created: false };
  }
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(fromFlags, null, 2));
  const fh = await open(tmp, 'r');
  await fh.sync();
  await fh.close();
  await rename(tmp, path);
  const dir = await open(dataDir, 'r');
  await dir.sync();
  await dir.close();
  return { identity: fromFlags, created: true };
}
