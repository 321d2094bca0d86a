/**
 * Multi-Paxos membership through etcd's Cluster API, with real `quorate serve --protocol
 * multipaxos` processes: a voter added (MemberAdd), started with --initial-cluster-state existing
 * (it catches up by snapshot, with the ballot rank the cluster gave it), a learner added and
 * promoted, the member that led removed (MemberRemove: it stops), and the cluster serving
 * throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster } from './process-cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry `attempt` until it returns true (errors count as false), within `boundMs`. */
async function until(what: string, boundMs: number, attempt: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + boundMs;
  let last = '';
  for (;;) {
    try {
      if (await attempt()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms${last === '' ? '' : ` (last error: ${last})`}`);
    await sleep(200);
  }
}

test('multipaxos membership through the Cluster API: MemberAdd then start the member, add and promote a learner, MemberRemove the leader', { timeout: 150_000 }, async () => {
  // Frequent snapshots: the members that join catch up by a snapshot, not by replaying from slot 1.
  const cluster = await ProcessCluster.start(3, ['--protocol', 'multipaxos', '--snapshot-count', '5']);
  try {
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 8; i++) await cluster.client(leader).put(`fill${i}`).value('x');
    await cluster.client(leader).put('before-join').value('yes');

    // A voter: added, then started.
    await cluster.reserve('m4');
    const m4Url = `http://127.0.0.1:${cluster.peerPort('m4')}`;
    const added = await cluster.client(leader).cluster.memberAdd({ peerURLs: [m4Url] });
    assert.equal(added.members.length, 4);
    cluster.launch('m4', ['--initial-cluster-state', 'existing']);
    await until('m4 serves a linearizable read of data written before it joined', 30_000,
      async () => (await cluster.client('m4').get('before-join').string()) === 'yes');
    await until('m4 is listed as started', 20_000, async () => {
      const members = (await cluster.client(leader).cluster.memberList({})).members;
      return members.some((m) => m.name === 'm4' && m.clientURLs.length > 0);
    });
    await cluster.client('m4').put('from-m4').value('1');

    // A learner: added, started, promoted once it has caught up.
    await cluster.reserve('m5');
    const m5Url = `http://127.0.0.1:${cluster.peerPort('m5')}`;
    const learner = await cluster.client(leader).cluster.memberAdd({ peerURLs: [m5Url], isLearner: true });
    const m5 = learner.member;
    assert.equal(m5.isLearner, true);
    cluster.launch('m5', ['--initial-cluster-state', 'existing']);
    await until('m5 is promoted', 40_000, async () => {
      await cluster.client(leader).put('tick').value(String(Date.now()));
      const r = await cluster.client(leader).cluster.memberPromote({ ID: m5.ID });
      return r.members.some((m) => m.ID === m5.ID && m.isLearner !== true);
    });

    // The leader removes itself: it stops, and the others go on.
    const current = await cluster.waitForLeader();
    const members = (await cluster.client(current).cluster.memberList({})).members;
    const leaderId = members.find((m) => m.name === current)!.ID;
    await until('the leader is removed', 20_000, async () => {
      await cluster.client(current).cluster.memberRemove({ ID: leaderId });
      return true;
    });
    assert.ok(await cluster.exitedWithin(current, 20_000), 'the removed member stops');
    const rest = ['m1', 'm2', 'm3', 'm4', 'm5'].filter((n) => n !== current);
    await until('the others serve writes without it', 30_000, async () => {
      await cluster.client(rest[0]!).put('after-remove').value('ok');
      return true;
    });
    for (const n of rest) {
      await until(`${n} reads the write and lists four members`, 30_000, async () =>
        (await cluster.client(n).get('after-remove').string()) === 'ok' &&
        (await cluster.client(n).cluster.memberList({})).members.length === 4);
    }
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    await cluster.stop();
  }
});
