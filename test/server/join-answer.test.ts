/**
 * The join answer a running member gives (answerJoin), against a fake member context: it tells a
 * configuration the joiner can hold (see ReplicatedNode: voters are the members minus the learners,
 * no outgoing voters), so it refuses while the configuration is joint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerJoin, type JoinAnswer } from '../../src/server/membership-runtime.js';
import type { MemberContext } from '../../src/server/member-context.js';
import type { Membership } from '../../src/core/replica.js';
import { nodeId } from '../../src/core/ids.js';

function fakeContext(membership: Membership, appliedIndex: number): MemberContext {
  const urls = (n: string): string[] => [`http://${n}.example:2380`];
  return {
    identity: { format: 1, name: 'a', clusterId: '1', token: 't', nodeId: 'a', members: [] },
    selfMemberId: '1',
    node: { status: () => ({ membership, appliedIndex }) },
    kv: {
      cluster: { wasRemoved: () => false, member: (n: string) => ({ id: String(n.charCodeAt(0)), peerUrls: urls(n) }) },
      publishedNameOf: () => undefined,
      clientUrlsOf: () => [],
    },
  } as unknown as MemberContext;
}

/** The configuration a joiner starts from, built from the answer as the server does (member.ts, node.ts). */
function joinerMembership(a: JoinAnswer): { voters: string[]; learners: string[] } {
  const learners = [...(a.learners ?? [])];
  return { voters: a.members.map((m) => m.nodeId).filter((n) => !learners.includes(n)).sort(), learners };
}

test('a join answer tells the configuration the joiner starts from, with since', () => {
  const a = answerJoin(fakeContext({ voters: [nodeId('a'), nodeId('b'), nodeId('c')], outgoingVoters: [], learners: [nodeId('e')] }, 7), { peerUrls: ['http://e.example:2380'] }) as JoinAnswer;
  assert.equal(a.nodeId, 'e');
  assert.deepEqual(joinerMembership(a), { voters: ['a', 'b', 'c'], learners: ['e'] });
  assert.equal(a.since, 7);
});

test('no join answer from a joint configuration: the joiner would keep the outgoing voters as voters', () => {
  // Joint {a,b,c} -> {a,b,d}, e added as a learner: told as members and learners, c would be a voter
  // of the joiner's configuration, and stay one after leave-joint (the joint entry is below since).
  const ids = (...ns: string[]): ReturnType<typeof nodeId>[] => ns.map((n) => nodeId(n));
  const joint: Membership = { voters: ids('a', 'b', 'd'), outgoingVoters: ids('a', 'b', 'c'), learners: ids('e') };
  const a = answerJoin(fakeContext(joint, 9), { peerUrls: ['http://e.example:2380'] }) as { error?: string };
  assert.match(a.error ?? '', /joint configuration/);
});

test('a joiner refuses an answer without since (an older build) and asks another member', async () => {
  const { identityFromJoinAnswer } = await import('../../src/server/member.js');
  const answer = { clusterId: '1', nodeId: 'e', token: 't', members: [{ nodeId: 'a', id: '97', peerUrls: ['http://a.example:2380'] }], learners: ['e'] };
  // No index stands in for since: 1 made a Multi-Paxos joiner take the told configuration for slot 1's.
  assert.match(String(identityFromJoinAnswer('e', answer)), /names no configuration index \(since\): it runs an older build/);
  assert.match(String(identityFromJoinAnswer('e', { ...answer, since: 0 })), /names no configuration index/);
  assert.match(String(identityFromJoinAnswer('e', { ...answer, since: 2 ** 53 })), /names no configuration index/);
  const joined = identityFromJoinAnswer('e', { ...answer, since: 12 });
  assert.equal(typeof joined, 'object');
  assert.equal((joined as { since?: number }).since, 12);
  assert.equal(identityFromJoinAnswer('e', { error: 'member e was removed from the cluster' }), 'member e was removed from the cluster');
  assert.equal(identityFromJoinAnswer('e', 'garbage'), 'malformed answer');
});
