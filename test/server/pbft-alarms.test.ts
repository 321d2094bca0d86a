/**
 * Alarms and member updates on PBFT, through the etcd3 client: one lying member must not raise or
 * clear an alarm on its own word (every write is refused while CORRUPT is raised on more than f
 * members), nor change
 * another member's peer URLs. With auth off an Alarm call is its member's vote, raised or cleared
 * once f + 1 = 2 members asked; with auth on, root's call takes effect at once (etcd's semantics).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlarmAction, AlarmType, Etcd3 } from 'etcd3';
import type { Member } from '../../src/server/index.js';
import { enableRootAuth, pbftMembers, rootClient } from './pbft-members.js';
import { encodeKvCommand } from '../../src/statemachine/mvcc/index.js';

/** Deadline of each call: PBFT orders a command in well under this on loopback. */
const CALL_DEADLINE_MS = 15_000;

const idOf = (m: Member, name: string): string => m.identity.members.find((x) => x.name === name)!.id;
const listed = (r: { alarms: { memberID: unknown; alarm: unknown }[] }): string[] => r.alarms.map((a) => `${String(a.memberID)}/${String(a.alarm)}`);

test('PBFT, auth off: an Alarm call is its member\'s vote; CORRUPT is raised once two members asked, stops writes once more than f members are named, and is disarmed likewise; a member updates only its own peer URLs', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-alarms');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const clients = cluster.names.map((_, i) => cluster.client(i, CALL_DEADLINE_MS));
  const [c1, c2, c3, c4] = clients as [Etcd3, Etcd3, Etcd3, Etcd3];
  try {
    await c1.put('k').value('v1');
    const m2 = idOf(members[0]!, 'm2');
    const corrupt = { memberID: m2, alarm: AlarmType.Corrupt };
    // m4 alone (a liar could order the same): a vote, nothing raised.
    assert.deepEqual(listed(await c4.maintenance.alarm({ action: AlarmAction.Activate, ...corrupt })), [], 'm4\'s vote alone raises nothing');
    assert.deepEqual(members.map((m) => m.server.kv.cluster.alarmList().length), [0, 0, 0, 0]);
    await c2.put('k').value('v2');
    // m1 agrees: raised on every member. One member named corrupt is within the f PBFT masks (a
    // liar can make itself look corrupt at will): the alarm is listed and writes go on.
    assert.deepEqual(listed(await c1.maintenance.alarm({ action: AlarmAction.Activate, ...corrupt })), [`${m2}/Corrupt`]);
    await c3.put('k').value('v3');
    // A second member named by two members: more than f disagree, and writes stop.
    const m3 = idOf(members[0]!, 'm3');
    const corrupt3 = { memberID: m3, alarm: AlarmType.Corrupt };
    await c4.maintenance.alarm({ action: AlarmAction.Activate, ...corrupt3 });
    // (An Alarm answer lists the alarms the call raised or cleared, as etcd's does.)
    assert.deepEqual(listed(await c1.maintenance.alarm({ action: AlarmAction.Activate, ...corrupt3 })), [`${m3}/Corrupt`]);
    assert.deepEqual(members.map((m) => m.server.kv.cluster.membersAlarmed('CORRUPT')), [2, 2, 2, 2]);
    await assert.rejects(async () => { await c3.put('k').value('v3b'); }, /corrupt/);
    // One member's disarm clears nothing; a second one's does.
    assert.deepEqual(listed(await c4.maintenance.alarm({ action: AlarmAction.Deactivate, ...corrupt3 })), []);
    await assert.rejects(async () => { await c2.put('k').value('v3c'); }, /corrupt/);
    assert.deepEqual(listed(await c3.maintenance.alarm({ action: AlarmAction.Deactivate, ...corrupt3 })), [`${m3}/Corrupt`]);
    await c2.put('k').value('v4');
    assert.equal(await c1.get('k').string(), 'v4');

    // member-update: m4 may not set m2's peer URLs (here to the ones m2 has), only its own.
    const list = await c1.cluster.memberList({});
    const urlsOf = (name: string): string[] => list.members.find((m) => m.name === name)!.peerURLs;
    await assert.rejects(c4.cluster.memberUpdate({ ID: m2, peerURLs: urlsOf('m2') }), /permission denied/);
    await c4.cluster.memberUpdate({ ID: idOf(members[0]!, 'm4'), peerURLs: urlsOf('m4') });
  } finally {
    for (const c of clients) c.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});

test('PBFT, auth on: root\'s Alarm call through one member takes effect at once, and so does its disarm; root may update another member', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-alarms-auth');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const anon = cluster.client(0, CALL_DEADLINE_MS);
  const as = (i: number) => rootClient(cluster, i);
  const viaM2 = as(1);
  const viaM3 = as(2);
  try {
    await enableRootAuth(anon);
    await viaM2.put('k').value('v1');
    const m4 = idOf(members[0]!, 'm4');
    assert.deepEqual(listed(await viaM2.maintenance.alarm({ action: AlarmAction.Activate, memberID: m4, alarm: AlarmType.Corrupt })), [`${m4}/Corrupt`]);
    await viaM3.put('k').value('v1b'); // one member named: within the f PBFT masks
    const m3 = idOf(members[0]!, 'm3');
    await viaM2.maintenance.alarm({ action: AlarmAction.Activate, memberID: m3, alarm: AlarmType.Corrupt });
    await assert.rejects(async () => { await viaM3.put('k').value('v2'); }, /corrupt/);
    assert.deepEqual(listed(await viaM3.maintenance.alarm({ action: AlarmAction.Deactivate, memberID: m3, alarm: AlarmType.Corrupt })), [`${m3}/Corrupt`]);
    await viaM3.put('k').value('v3');
    const list = await viaM2.cluster.memberList({});
    const m1Urls = list.members.find((m) => m.name === 'm1')!.peerURLs;
    await viaM2.cluster.memberUpdate({ ID: idOf(members[0]!, 'm1'), peerURLs: m1Urls });
  } finally {
    for (const c of [anon, viaM2, viaM3]) c.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});

test('PBFT: a lying member\'s own member-update cannot take another member\'s id, a made-up id, or a peer URL no member can dial (review finding)', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-member-update-liar');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const c1 = cluster.client(0, CALL_DEADLINE_MS);
  try {
    await c1.put('k').value('v1');
    const m4 = members[3]!;
    let seq = 0;
    // m4 lies: it orders, under its own name, updates an honest server never sends.
    const lie = (id: string, peerUrls: string[]) => m4.node.propose(encodeKvCommand({ client: 'liar', seq: ++seq, lowestPending: seq, request: { op: 'member-update', nodeId: 'm4', id, peerUrls } }));
    const before = (await c1.cluster.memberList({})).members.map((m) => `${m.name}=${m.ID}`).sort();
    const m4Urls = m4.identity.members.find((x) => x.name === 'm4')!.peerUrls;
    for (const [id, urls] of [[idOf(m4, 'm2'), m4Urls], ['x', m4Urls], [idOf(m4, 'm4'), ['not a url']]] as const) {
      const outcome = await lie(id, [...urls]);
      assert.equal(outcome.ok, false, `${id} ${urls.join(',')}`);
    }
    // Every member still lists each member once, by its own id, and still serves writes.
    for (let i = 0; i < 4; i++) {
      const c = cluster.client(i, CALL_DEADLINE_MS);
      try {
        assert.deepEqual((await c.cluster.memberList({})).members.map((m) => `${m.name}=${m.ID}`).sort(), before);
      } finally {
        c.close();
      }
    }
    await c1.put('k').value('v2');
  } finally {
    c1.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});
