/**
 * The lease clock and the leader's expiry loop, in one process with a fake node: only a leader
 * expires leases, a member that becomes leader first restarts every lease's clock, and
 * keep-alives reach the log at most one in flight plus one queued per lease.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseKeeper, DEFAULT_LEASE_LIMITS } from '../../src/server/lease-service.js';
import type { ServiceContext } from '../../src/server/service-context.js';
import { KvStateMachine, WatchHub, encodeKvCommand, type KvOutcome, type KvRequest, type LeaseRequest } from '../../src/statemachine/mvcc/index.js';
import { index } from '../../src/core/ids.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeMember(): { ctx: ServiceContext; kv: KvStateMachine; setLeader(v: boolean): void; proposals: (KvRequest | LeaseRequest)[]; hold: boolean; release(): void } {
  const kv = new KvStateMachine();
  let leader = false;
  let seq = 1;
  const held: (() => void)[] = [];
  const member = {
    kv,
    proposals: [] as (KvRequest | LeaseRequest)[],
    hold: false,
    setLeader(v: boolean) { leader = v; },
    release() { for (const r of held.splice(0)) r(); },
    ctx: null as unknown as ServiceContext,
  };
  const apply = (request: KvRequest | LeaseRequest): KvOutcome => {
    const s = seq++;
    return kv.apply(encodeKvCommand({ client: 'test', seq: s, lowestPending: s, request }), index(s));
  };
  member.ctx = {
    node: { isLeader: () => leader } as unknown as ServiceContext['node'],
    kv,
    hub: new WatchHub(kv.store),
    logger: () => undefined,
    maxRequestBytes: 1 << 20,
    header: (revision) => ({ cluster_id: '1', member_id: '1', revision, raft_term: 1 }),
    propose: async (request) => {
      member.proposals.push(request);
      if (member.hold) await new Promise<void>((r) => held.push(r));
      return apply(request);
    },
    readBarrier: async () => undefined,
    isStopped: () => false,
    checkRead: () => null,
    watchPermission: () => Promise.resolve(() => null),
    asCaller() {
      return Promise.resolve(this);
    },
  };
  return member;
}

test('only the leader expires leases, and a new leader restarts every lease clock first', async () => {
  const m = fakeMember();
  const keeper = new LeaseKeeper(m.ctx, { ...DEFAULT_LEASE_LIMITS, checkIntervalMs: 20 });
  try {
    await m.ctx.propose({ op: 'lease-grant', id: '5', ttlSeconds: 1 });
    await sleep(1_300);
    assert.ok(m.kv.leases.has('5'), 'a follower never expires a lease, however late');
    m.setLeader(true);
    await sleep(100);
    assert.ok(m.kv.leases.has('5'), 'promotion restarted the clock: the lease gets a full TTL from now');
    const deadline = Date.now() + 10_000;
    while (m.kv.leases.has('5') && Date.now() < deadline) await sleep(50);
    assert.equal(m.kv.leases.has('5'), false, 'the leader expired it once its TTL ran out');
    assert.equal(keeper.expired, 1);
    assert.ok(m.proposals.some((p) => p.op === 'lease-expire'), 'expiry went through the log');
  } finally {
    keeper.stop();
  }
});

test('keep-alives: one in the log per lease, one queued behind it; unknown leases answer 0', async () => {
  const m = fakeMember();
  const keeper = new LeaseKeeper(m.ctx, { ...DEFAULT_LEASE_LIMITS, checkIntervalMs: 1_000 });
  try {
    await m.ctx.propose({ op: 'lease-grant', id: '9', ttlSeconds: 30 });
    m.proposals.length = 0;
    m.hold = true;
    const answers = [keeper.renew('9'), keeper.renew('9'), keeper.renew('9'), keeper.renew('9')];
    await sleep(10);
    assert.equal(m.proposals.length, 1, 'one keep-alive in flight');
    m.release();
    await sleep(10);
    assert.equal(m.proposals.length, 2, 'the queued one started after the first was answered');
    m.release();
    assert.deepEqual(await Promise.all(answers), [30, 30, 30, 30]);
    m.hold = false;
    assert.equal(await keeper.renew('12345'), 0);
  } finally {
    keeper.stop();
  }
});
