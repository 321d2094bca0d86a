/**
 * Membership calls check the member table after a linearizable barrier. The table is the state
 * machine's, and a leader elected while it installs a snapshot in slices applies what it holds only
 * after the install: its table is behind its configuration meanwhile. A fake member context whose
 * table catches up only at the barrier shows each call judging the caught-up table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { clusterServiceHandlers } from '../../src/server/cluster-service.js';
import type { MemberContext } from '../../src/server/member-context.js';

interface Row { readonly id: string; readonly peerUrls: string[] }

/** A context of a leader of m1..m3 whose table knows m3 (added at runtime) only once a barrier ran. */
function behindContext(): { ctx: MemberContext; changes: unknown[]; barriers: () => number } {
  const table = new Map<string, Row>([['m1', { id: '11', peerUrls: ['http://10.0.0.1:2380'] }], ['m2', { id: '12', peerUrls: ['http://10.0.0.2:2380'] }]]);
  const changes: unknown[] = [];
  let barriers = 0;
  const progress = new Map(['m2', 'm3'].map((id) => [id, { recentActive: true, isLearner: false, match: 10 }]));
  const node = {
    running: true,
    isLeader: () => true,
    status: () => ({ leader: 'm1', commitIndex: 10, lastIndex: 10, progress, membership: { voters: ['m1', 'm2', 'm3'], outgoingVoters: [], learners: [] } }),
    transportStats: () => null,
    readBarrier: async () => {
      barriers++;
      table.set('m3', { id: '13', peerUrls: ['http://10.0.0.3:2380'] }); // the install ends: the table catches up
    },
    changeMembership: async (change: unknown) => { changes.push(change); },
  };
  const kv = {
    leaseExpiryQuorum: 1,
    cluster: { member: (n: string) => table.get(n), wasRemoved: () => false },
    publishedNameOf: () => undefined,
    clientUrlsOf: () => [],
  };
  const ctx = {
    node, kv, selfNodeId: 'm1', selfMemberId: '11', clientTls: false,
    identity: { clusterId: 'c', members: [{ name: 'm1', id: '11', peerUrls: ['http://10.0.0.1:2380'] }, { name: 'm2', id: '12', peerUrls: ['http://10.0.0.2:2380'] }] },
    retry: { requestTimeoutMs: 1000, backoffMs: 10 },
    logger: () => {},
    header: () => ({}),
    requireAdmin: async () => {},
  } as unknown as MemberContext;
  return { ctx, changes, barriers: () => barriers };
}

function call(ctx: MemberContext, method: string, request: unknown): Promise<{ err: grpc.ServiceError | null; value: unknown }> {
  const handler = clusterServiceHandlers(ctx).handlers[method] as grpc.handleUnaryCall<unknown, unknown>;
  return new Promise((resolve) => {
    handler({ request, metadata: new grpc.Metadata() } as unknown as grpc.ServerUnaryCall<unknown, unknown>, (err, value) => resolve({ err: err as grpc.ServiceError | null, value }));
  });
}

test('MemberAdd with a peer URL a member added at runtime holds is refused, though the table learns of that member only at the barrier', async () => {
  const { ctx, changes, barriers } = behindContext();
  const r = await call(ctx, 'MemberAdd', { peerURLs: ['http://10.0.0.3:2380'] });
  assert.equal(barriers(), 1);
  assert.equal(r.err?.details, 'etcdserver: Peer URLs already exists');
  assert.deepEqual(changes, [], 'nothing proposed');
});

test('MemberRemove of a member the table learns of only at the barrier finds it', async () => {
  const { ctx, changes } = behindContext();
  const r = await call(ctx, 'MemberRemove', { ID: '13' });
  assert.equal(r.err, null, r.err?.details);
  assert.equal(changes.length, 1);
  assert.equal((changes[0] as { kind: string; node: string }).kind, 'remove');
  assert.equal((changes[0] as { kind: string; node: string }).node, 'm3');
});
