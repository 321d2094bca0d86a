/**
 * Membership changes for the chaos harness, through etcd's Cluster API (MemberList, MemberAdd,
 * MemberPromote, MemberRemove) as an operator would make them: the nemesis removes members (never
 * below a majority of the original size), and its heal adds each back, into the same namespace
 * with an empty data directory, as a learner first, started to join the running cluster
 * (--initial-cluster-state existing) and promoted once it has caught up.
 *
 * quorate: the protocols whose definition has the membership ability (membershipProtocols());
 * the rest run a fixed membership and are refused. etcd 3.4: learners and all.
 */
import * as grpc from '@grpc/grpc-js';
import type { Random } from '../core/prng.js';
import { PROTOCOLS } from '../protocols/registry.js';
import { etcdService } from '../server/proto.js';

/** A member as MemberList gives it (ids as decimal strings: they use all 64 bits). */
export interface ClusterMember {
  readonly id: string;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly isLearner: boolean;
}

/** A Cluster call's deadline; a call that times out is retried until the change's own deadline. */
const CALL_TIMEOUT_MS = 5_000;
/** A learner must be promoted within this of being added (it catches up first). */
export const PROMOTE_TIMEOUT_MS = 60_000;
/** A change (remove, add) gets this long, retried through elections. */
export const CHANGE_TIMEOUT_MS = 30_000;
/** Between tries. */
const RETRY_MS = 300;

/** The majority of `n` members. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Which members a membership fault removes: one up to as many as leave a majority of the
 * original size (`original`), among `voters` (the members now in the cluster, none removed yet);
 * the leader, when known, half the time among them. Empty when none can go (one or two members).
 */
export function chooseRemovals(random: Random, voters: readonly string[], original: number, leader: string | null): string[] {
  const spare = voters.length - majority(original);
  if (spare <= 0) return [];
  const count = random.int(1, spare);
  const shuffled = random.shuffle([...voters]);
  if (leader !== null && voters.includes(leader) && random.chance(0.5)) {
    return [leader, ...shuffled.filter((n) => n !== leader)].slice(0, count);
  }
  return shuffled.slice(0, count);
}

/** The quorate protocols whose members can be added and removed: those with the membership ability. */
export function membershipProtocols(): string[] {
  return [...PROTOCOLS.values()].filter((p) => p.membership !== undefined).map((p) => p.name);
}

/**
 * Why `--nemesis member` cannot run against this system, or null when it can: a quorate protocol
 * not among `changeable` (membershipProtocols()) runs a fixed membership.
 */
export function memberRefusal(system: 'quorate' | 'etcd', protocol: string, changeable: readonly string[], nodes: number): string | null {
  if (system === 'quorate' && !changeable.includes(protocol)) return `not applicable to ${protocol}: its membership is fixed (membership changes: ${changeable.join(', ')})`;
  if (majority(nodes) >= nodes) return `needs at least 3 members (--nodes ${nodes}: removing one would leave less than a majority)`;
  return null;
}

type Call = (method: string, request: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** The Cluster service on one endpoint. */
function clusterCall(endpoint: string): Call {
  const Cluster = etcdService('Cluster', 'string');
  return (method, request) => new Promise((done, fail) => {
    const client = new Cluster(endpoint, grpc.credentials.createInsecure());
    client[method]!(request, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err: Error | null, res: Record<string, unknown>) => {
      client.close();
      if (err === null) done(res);
      else fail(err);
    });
  });
}

function asMembers(res: Record<string, unknown>): ClusterMember[] {
  const members = (res['members'] ?? []) as { ID: string; name: string; peerURLs: string[]; isLearner: boolean }[];
  return members.map((m) => ({ id: String(m.ID), name: m.name, peerUrls: m.peerURLs, isLearner: m.isLearner === true }));
}

/** What the membership calls go through: any member that answers, tried in turn. */
export class ClusterAdmin {
  constructor(private readonly endpoints: () => readonly string[]) {}

  /** Call `method` on the first member that answers, retrying until `timeoutMs`; `retry` says which errors are worth another try. */
  private async call(method: string, request: Record<string, unknown>, timeoutMs: number, retry: (e: Error) => boolean = () => true): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    let last: Error = new Error('no member to ask');
    for (;;) {
      for (const endpoint of this.endpoints()) {
        try {
          return await clusterCall(endpoint)(method, request);
        } catch (err) {
          last = err as Error;
          if (!retry(last)) throw last;
        }
      }
      if (Date.now() + RETRY_MS >= deadline) throw new Error(`${method}: ${last.message}`);
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  async list(): Promise<ClusterMember[]> {
    return asMembers(await this.call('MemberList', {}, CHANGE_TIMEOUT_MS));
  }

  /**
   * Remove the member whose peer URL is `peerUrl`; returns its id, or null when no member has it.
   * A retry after a call that timed out may find it gone already: that is success. (MemberList is
   * answered from the asked member's own table, which may lag: a member it still lists is asked
   * to go again, and "member not found" is retried until a list agrees.)
   */
  async remove(peerUrl: string): Promise<string | null> {
    const deadline = Date.now() + CHANGE_TIMEOUT_MS;
    let removed: string | null = null;
    for (;;) {
      const target = (await this.list()).find((m) => m.peerUrls.includes(peerUrl));
      if (target === undefined) return removed;
      removed = target.id;
      try {
        await this.call('MemberRemove', { ID: target.id }, CALL_TIMEOUT_MS);
        return removed;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  /**
   * Add a member at `peerUrl` (as a learner when asked); returns its id. A retry that finds it
   * added takes that one; `former` are ids that had this peer URL before (removed, though a
   * lagging member may list them still), never taken for the new one.
   */
  async add(peerUrl: string, learner: boolean, former: readonly string[] = []): Promise<string> {
    const deadline = Date.now() + CHANGE_TIMEOUT_MS;
    for (;;) {
      const there = (await this.list()).find((m) => m.peerUrls.includes(peerUrl) && !former.includes(m.id));
      if (there !== undefined) return there.id;
      try {
        const res = await this.call('MemberAdd', { peerURLs: [peerUrl], isLearner: learner }, CALL_TIMEOUT_MS);
        return String((res['member'] as { ID: string }).ID);
      } catch (err) {
        if (Date.now() >= deadline) throw err;
      }
    }
  }

  /**
   * Promote learner `id` once it has caught up (the leader refuses until then), within
   * PROMOTE_TIMEOUT_MS; `running` says whether the learner's process still runs (one that exited,
   * a join that failed, is no use waiting for).
   */
  async promote(id: string, running: () => boolean = () => true): Promise<void> {
    const deadline = Date.now() + PROMOTE_TIMEOUT_MS;
    for (;;) {
      if (!running()) throw new Error(`learner ${id} exited before it was promoted (see its log)`);
      // Not listed: the member asked has not applied the add yet (its table lags); asked again.
      const me = (await this.list()).find((m) => m.id === id);
      if (me !== undefined && !me.isLearner) return;
      try {
        await this.call('MemberPromote', { ID: id }, CALL_TIMEOUT_MS);
        return;
      } catch (err) {
        if (Date.now() + RETRY_MS >= deadline) throw new Error(`the learner was not promoted within ${PROMOTE_TIMEOUT_MS / 1000} s: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }
}
