/**
 * The periodic corruption check (etcd's --experimental-corrupt-check-time): the checker's rules on
 * fakes (only a like-for-like disagreement raises the alarm, once; members behind, compacted
 * differently or silent are skipped; only the leader checks), and a three-member cluster in which
 * one follower's keys are altered behind the log's back: the CORRUPT alarm names it, every write
 * is then refused with etcd's "corrupt cluster", reads go on, and disarming the alarm (after the
 * member is repaired) lets writes through again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlarmAction, AlarmType, Etcd3 } from 'etcd3';
import { CorruptionChecker, HashKvResponder, type HashAnswer, type PeerToCheck } from '../../src/server/corruption-check.js';
import { startMember, type Member } from '../../src/server/index.js';
import { errorOf, freePort } from './process-cluster.js';

function fakes(peerAnswers: Record<string, HashAnswer | { error: string } | 'hang'>, mine: HashAnswer, leading = true) {
  const raised: string[] = [];
  const logged: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const alarmed = new Set<string>();
  const peers: PeerToCheck[] = Object.entries(peerAnswers).map(([memberId, a]) => ({
    memberId,
    ask: () => (a === 'hang' ? Promise.reject(new Error('no answer within 5000 ms')) : Promise.resolve(a)),
  }));
  const c = new CorruptionChecker(1000, {
    setTimer: () => () => {},
    leading: () => leading,
    revision: () => 42,
    localHash: () => mine,
    peers: () => peers,
    selfMemberId: () => 'self',
    alarmed: () => alarmed,
    raise: async (id) => { raised.push(id); alarmed.add(id); },
    log: (level, message, fields) => logged.push({ level, message, fields }),
  });
  return { c, raised, logged };
}

test('the check raises CORRUPT only for a member whose hash differs at the same compaction point, once', async () => {
  const { c, raised } = fakes({
    '1': { hash: 7, compactRevision: 3 }, // agrees
    '2': { hash: 8, compactRevision: 3 }, // disagrees
    '3': { hash: 9, compactRevision: 5 }, // compacted differently: not comparable
    '4': { error: 'etcdserver: mvcc: required revision is a future revision' }, // behind
    '5': 'hang',
  }, { hash: 7, compactRevision: 3 });
  await c.check();
  assert.deepEqual(raised, ['2']);
  await c.check();
  assert.deepEqual(raised, ['2'], 'an alarm already raised is not raised again');
});

test('a leader whose hash differs from a majority that agree among themselves raises CORRUPT for itself, not for the healthy members', async () => {
  // Five members: the leader (self) holds hash 7; three followers agree on 8; one is behind.
  const { c, raised } = fakes({
    '1': { hash: 8, compactRevision: 3 },
    '2': { hash: 8, compactRevision: 3 },
    '3': { hash: 8, compactRevision: 3 },
    '4': { error: 'etcdserver: mvcc: required revision is a future revision' },
  }, { hash: 7, compactRevision: 3 });
  await c.check();
  assert.deepEqual(raised, ['self']);
});

test('with no majority on another hash, the hash of the leader is the reference', async () => {
  // Three members: one follower disagrees, one is silent: the follower is named, as before.
  const { c, raised } = fakes({ '1': { hash: 8, compactRevision: 3 }, '2': 'hang' }, { hash: 7, compactRevision: 3 });
  await c.check();
  assert.deepEqual(raised, ['1']);
});

test('a member that cannot be asked (down, or refusing this member\'s proof of the peer secret) is logged, not silently skipped', async () => {
  const { c, raised, logged } = fakes({ '1': { hash: 7, compactRevision: 3 }, '2': 'hang' }, { hash: 7, compactRevision: 3 });
  await c.check();
  assert.deepEqual(raised, []);
  const line = logged.find((l) => l.level === 'warn' && /could not ask a member/.test(l.message));
  assert.ok(line !== undefined, JSON.stringify(logged));
  assert.equal(line.fields['member'], '2');
  assert.match(String(line.fields['error']), /no answer within/);
});

test('a member that does not lead does not check', async () => {
  const { c, raised } = fakes({ '2': { hash: 8, compactRevision: 0 } }, { hash: 7, compactRevision: 0 }, false);
  await c.check();
  assert.deepEqual(raised, []);
});

test('Byzantine protocols: a member whose CORRUPT vote stands does not vote again, and withdraws it once the member agrees again', async () => {
  const answers: Record<string, HashAnswer> = { '1': { hash: 7, compactRevision: 3 }, '2': { hash: 8, compactRevision: 3 } };
  const voted = new Set<string>();
  const raised: string[] = [];
  const withdrawn: string[] = [];
  const c = new CorruptionChecker(1000, {
    setTimer: () => () => {},
    leading: () => true,
    revision: () => 42,
    localHash: () => ({ hash: 7, compactRevision: 3 }),
    peers: () => Object.keys(answers).map((memberId) => ({ memberId, ask: () => Promise.resolve(answers[memberId]!) })),
    selfMemberId: () => 'self',
    alarmed: () => new Set(),
    raise: async (id) => { raised.push(id); voted.add(id); },
    voted: () => voted,
    withdraw: async (id) => { withdrawn.push(id); voted.delete(id); },
    log: () => {},
  });
  await c.check();
  await c.check();
  assert.deepEqual(raised, ['2'], 'one vote while it stands (the alarm waits for f + 1 members)');
  answers['2'] = { hash: 7, compactRevision: 3 };
  await c.check();
  assert.deepEqual(withdrawn, ['2']);
  await c.check();
  assert.deepEqual(withdrawn, ['2'], 'withdrawn once');
});

test('a cluster with --experimental-corrupt-check-time raises CORRUPT for a member whose keys diverged; writes stop until it is disarmed', async () => {
  const names = ['m1', 'm2', 'm3'];
  const ports: number[] = [];
  for (let i = 0; i < 2 * names.length; i++) ports.push(await freePort());
  const peer = (i: number) => `http://127.0.0.1:${ports[names.length + i]!}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[i]!}`;
  const dir = mkdtempSync(join(tmpdir(), 'quorate-corrupt-'));
  const members: Member[] = await Promise.all(names.map((name, i) => startMember({
    name, protocol: 'raft', dataDir: join(dir, name), listenClientUrls: [clientUrl(i)], advertiseClientUrls: [clientUrl(i)], listenPeerUrls: [peer(i)],
    initialAdvertisePeerUrls: [peer(i)], initialCluster: names.map((n, j) => `${n}=${peer(j)}`).join(','), initialClusterState: 'new',
    initialClusterToken: 'corrupt-check', clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50, electionTimeoutMs: 500,
    maxRequestBytes: 1572864, maxTxnOps: 128, logger: () => {}, corruptCheckIntervalMs: 200,
  })));
  const client = new Etcd3({ hosts: clientUrl(0) });
  try {
    for (let i = 0; i < 5; i++) await client.put(`k${i}`).value(`v${i}`).exec();
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual((await client.maintenance.alarm({ action: AlarmAction.Get, memberID: 0, alarm: AlarmType.None })).alarms, [], 'members that agree raise nothing');
    // A follower's copy of k2 changes behind the log's back (bit rot, a bug in apply): its
    // revision is the same as everyone's, its keys are not.
    const victim = members.find((m) => !m.node.status().leading)!;
    const store = victim.server.kv.store;
    const state = store.state();
    store.restore({
      revision: state.revision, compactRevision: state.compactRevision,
      keys: [...state.keys].map(([k, revs]) => [k, k === Buffer.from('k2').toString('latin1') ? revs.map((r) => ({ ...r, value: Buffer.from('rotten') })) : revs]),
    });
    let alarms: { memberID: string; alarm: string }[] = [];
    for (let i = 0; i < 50 && alarms.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alarms = (await client.maintenance.alarm({ action: AlarmAction.Get, memberID: 0, alarm: AlarmType.None })).alarms as typeof alarms;
    }
    assert.deepEqual(alarms.map((a) => [String(a.memberID), a.alarm]), [[victim.identity.members.find((m) => m.name === victim.node.id)!.id, 'Corrupt']]);
    assert.match(await errorOf(client.put('k9').value('x').exec()), /etcdserver: corrupt cluster/);
    assert.equal(await client.get('k1').string(), 'v1', 'reads go on');
    // The operator repairs the member first: disarmed while it still disagrees, the next round
    // (every 200 ms here) raises the alarm again, as etcd's does, and the put below could lose
    // that race.
    store.restore({ revision: state.revision, compactRevision: state.compactRevision, keys: [...state.keys] });
    await client.maintenance.alarm({ action: AlarmAction.Deactivate, memberID: alarms[0]!.memberID, alarm: AlarmType.Corrupt });
    await client.put('k9').value('x').exec();
    assert.equal(await client.get('k9').string(), 'x', 'writes again once the operator disarmed it');
  } finally {
    client.close();
    await Promise.all(members.map((m) => m.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the peer port computes HashKV at most once per ten times its last cost: a caller repeating the question cannot keep the member busy', () => {
  let now = 0;
  let computed = 0;
  const r = new HashKvResponder({
    nowMs: () => now,
    hash: () => { computed++; now += 50; return { hash: 7, compactRevision: 0 }; }, // 50 ms of work
  });
  assert.deepEqual(r.answer(5), { hash: 7, compactRevision: 0 });
  // Asked again at once, and again and again (at other revisions: revision 5's hash is answered
  // again, below): refused until 500 ms after the last hash ended.
  for (let i = 0; i < 100; i++) {
    now += 4;
    assert.ok('error' in r.answer(6 + i));
  }
  assert.equal(computed, 1);
  now = 550;
  assert.deepEqual(r.answer(6), { hash: 7, compactRevision: 0 });
  assert.equal(computed, 2);
});

test('every member asking a member for its HashKV at one revision (a Byzantine cluster\'s round) costs that member one hash, not one per asker', () => {
  let now = 0;
  let computed = 0;
  const r = new HashKvResponder({
    nowMs: () => now,
    hash: () => { computed++; now += 50; return { hash: 7, compactRevision: 0 }; },
  });
  // Six askers (a 7-member cluster's round) at the same revision, one after the other.
  for (let asker = 0; asker < 6; asker++) {
    assert.deepEqual(r.answer(5), { hash: 7, compactRevision: 0 }, `asker ${asker} is answered`);
    now += 1;
  }
  assert.equal(computed, 1);
  assert.equal(r.computed, 1);
});

test('HashKV is computed at most maxHashesPerPeriod times per period, whoever asks, and a hash is never answered again past its spacing window', () => {
  let now = 0;
  let hashValue = 1;
  let costMs = 0;
  const r = new HashKvResponder({
    nowMs: () => now,
    hash: () => { now += costMs; return { hash: hashValue, compactRevision: 0 }; },
  }, { maxHashesPerPeriod: 3, periodMs: 1000 });
  // Cheap hashes (the spacing by cost never refuses): askers at ten revisions within one period,
  // three are computed, the rest refused.
  const answers = Array.from({ length: 10 }, (_, i) => { now += 10; return r.answer(100 + i); });
  assert.equal(answers.filter((a) => !('error' in a)).length, 3);
  assert.match((answers[3] as { error: string }).error, /maxHashesPerPeriod/);
  assert.equal(r.computed, 3);
  // A sliding window: the budget comes back as each hash of the last period ages out.
  now += 1000;
  for (let i = 0; i < 3; i++) assert.ok(!('error' in r.answer(200 + i)));
  assert.ok('error' in r.answer(300));
  assert.equal(r.computed, 6);
  // A hash of 50 ms is answered again at its revision for its window (500 ms), then computed anew:
  // state that changed behind the log at an unchanged revision is seen.
  now += 1000;
  costMs = 50;
  assert.deepEqual(r.answer(400), { hash: 1, compactRevision: 0 });
  hashValue = 2;
  now += 100;
  assert.deepEqual(r.answer(400), { hash: 1, compactRevision: 0 }, 'answered again within the window');
  assert.equal(r.computed, 7);
  now += 500;
  assert.deepEqual(r.answer(400), { hash: 2, compactRevision: 0 }, 'computed anew after it');
  assert.equal(r.computed, 8);
});

test('HashKV questions the member cannot answer (a future or compacted revision, from anyone on the peer port) do not use up maxHashesPerPeriod', () => {
  let now = 0;
  const r = new HashKvResponder({
    nowMs: () => now,
    // As hashKv: a revision past the applied one throws before any work.
    hash: (revision) => {
      if (revision > 100) throw new Error('mvcc: required revision is a future revision');
      return { hash: 7, compactRevision: 0 };
    },
  }, { maxHashesPerPeriod: 4, periodMs: 1000 });
  for (let i = 0; i < 20; i++) {
    now += 10;
    assert.throws(() => r.answer(1_000_000 + i));
  }
  now += 10;
  assert.deepEqual(r.answer(50), { hash: 7, compactRevision: 0 }, 'the real asker is answered');
  assert.equal(r.computed, 1);
  // Nor do they take away the hash the askers of one round share.
  now += 10;
  assert.throws(() => r.answer(2_000_000));
  now += 10;
  assert.deepEqual(r.answer(50), { hash: 7, compactRevision: 0 });
  assert.equal(r.computed, 1, 'answered again, not computed again');
});

test('askers of one round at one revision, spread over a period, share a cheap hash rather than the last of them being refused', () => {
  let now = 0;
  const r = new HashKvResponder({
    nowMs: () => now,
    hash: () => ({ hash: 7, compactRevision: 0 }), // cheap: a window of about nothing
  }, { maxHashesPerPeriod: 4, periodMs: 1000 });
  // A Byzantine cluster of 7 members: six askers at the same revision, 100 ms apart.
  for (let asker = 0; asker < 6; asker++) {
    assert.deepEqual(r.answer(5), { hash: 7, compactRevision: 0 }, `asker ${asker} is answered`);
    now += 100;
  }
  // Shared for periodMs / maxHashesPerPeriod = 250 ms after each computation: at 0 and at 300 ms.
  assert.equal(r.computed, 2);
  // Another revision meanwhile is still computed (the budget allows), not refused by the sharing.
  assert.deepEqual(r.answer(6), { hash: 7, compactRevision: 0 });
  assert.equal(r.computed, 3);
});
