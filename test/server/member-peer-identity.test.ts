/**
 * The peer port's proof of a member key (transport/peer-identity.ts) grants a member's newest link
 * the right to close its oldest (maxConnectionsPerPeer). With --bft-insecure-keys-from-token every
 * key follows from the cluster token, so that proof shows only that the dialer holds the token:
 * the member must mark its PeerIdentity shared, and the transport then treats it as keyless there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberAuthenticators, type MemberOptions } from '../../src/server/member.js';
import type { ClusterIdentity } from '../../src/server/cluster-config.js';

const identity: ClusterIdentity = {
  format: 1, name: 'm1', clusterId: 'c1', token: 'trial-token',
  members: ['m1', 'm2', 'm3', 'm4'].map((name, i) => ({ name, id: String(i + 1), peerUrls: [`http://127.0.0.1:${2380 + i}`] })),
};

test('--bft-insecure-keys-from-token: the member\'s PeerIdentity is marked shared (a token holder can sign as any member), and its signatures still verify', async () => {
  const options = { memberKeys: 'insecure-from-token', logger: () => {} } as unknown as MemberOptions;
  const m1 = await memberAuthenticators(options, identity, 'm1', 'pbft');
  const m2 = await memberAuthenticators(options, identity, 'm2', 'pbft');
  assert.equal(m1.peerIdentity.sharedKeys, true);
  const payload = Buffer.from('payload');
  assert.ok(m1.peerIdentity.verify('m2' as never, payload, m2.peerIdentity.sign(payload)), 'm2\'s signature verifies at m1');
  assert.ok(!m1.peerIdentity.verify('m3' as never, payload, m2.peerIdentity.sign(payload)), 'and is m2\'s only');
});
