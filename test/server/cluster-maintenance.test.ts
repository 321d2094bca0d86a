/**
 * The Cluster and Maintenance APIs of real `quorate serve` processes, driven by etcd's own
 * command-line client (`etcdctl` 3.4, Debian's etcd-client): membership changes end to end (a
 * learner added, started with --initial-cluster-state existing, promoted; a member removed),
 * endpoint status/health/hashkv, snapshot save and `quorate snapshot restore`, move-leader,
 * the NOSPACE alarm under --quota-backend-bytes, defrag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ProcessCluster } from './process-cluster.js';
import { etcdctl, skipWithoutEtcdctl as skip, type Run } from './etcdctl-run.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry an etcdctl command until `ok` holds (bounded). */
async function until(what: string, boundMs: number, attempt: () => Promise<Run>, ok: (r: Run) => boolean): Promise<Run> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const r = await attempt();
    if (ok(r)) return r;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms; last output:\n${r.out}`);
    await sleep(200);
  }
}

interface MemberRow { id: string; started: boolean; name: string; peerUrl: string; clientUrl: string; isLearner: boolean }

/** `etcdctl member list` (simple format: ids in hex, exact; the JSON format prints them as numbers). */
async function memberList(endpoint: string): Promise<MemberRow[]> {
  const r = await etcdctl([endpoint], 'member', 'list');
  assert.equal(r.code, 0, r.out);
  return r.out.trim().split('\n').map((line) => {
    const [id, status, name, peerUrl, clientUrl, learner] = line.split(', ');
    return { id: id!, started: status === 'started', name: name!, peerUrl: peerUrl!, clientUrl: clientUrl!, isLearner: learner === 'true' };
  });
}

test('membership through etcdctl: add a learner, start it with --initial-cluster-state existing (it catches up by snapshot), promote it, remove a member', { timeout: 150_000, skip }, async () => {
  // Frequent snapshots: the member that joins catches up by InstallSnapshot, not by replaying from index 1.
  const cluster = await ProcessCluster.start(3, ['--snapshot-count', '5']);
  try {
    const ep = (n: string) => cluster.endpoint(n);
    for (let i = 0; i < 8; i++) assert.equal((await etcdctl([ep('m1')], 'put', `fill${i}`, 'x')).code, 0);
    assert.equal((await etcdctl([ep('m1')], 'put', 'before-join', 'yes')).code, 0);

    await cluster.reserve('m4');
    const peerUrl = `http://127.0.0.1:${cluster.peerPort('m4')}`;
    const add = await etcdctl([ep('m2')], 'member', 'add', 'm4', `--peer-urls=${peerUrl}`, '--learner');
    assert.equal(add.code, 0, add.out);
    assert.match(add.out, /Member\s+[0-9a-f]+ added to cluster/);
    assert.match(add.out, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
    const m4Id = /Member\s+([0-9a-f]+) added/.exec(add.out)![1]!;
    for (const n of ['m1', 'm2', 'm3']) {
      await until(`${n} lists the added member`, 10_000, () => etcdctl([ep(n)], 'member', 'list'), (r) => r.out.includes(`${m4Id}, unstarted, , ${peerUrl}, , true`));
    }

    assert.match((await etcdctl([ep('m1')], 'member', 'add', 'm5', '--peer-urls=http://127.0.0.1:1', '--learner')).out,
      /etcdserver: too many learner members in cluster/);
    assert.match((await etcdctl([ep('m1')], 'member', 'add', 'm5', `--peer-urls=${peerUrl}`)).out, /etcdserver: Peer URLs already exists/);

    cluster.launch('m4', ['--initial-cluster-state', 'existing']);
    // The learner catches up and publishes its name and client URL.
    await until('m4 listed as started', 30_000, () => etcdctl([ep('m1')], 'member', 'list'), (r) => r.out.includes(`${m4Id}, started, m4, ${peerUrl}, http://${ep('m4')}, true`));
    await until('the learner serves the data written before it joined', 30_000,
      () => etcdctl([ep('m4')], 'get', 'before-join', '--consistency=s', '--print-value-only'), (r) => r.out.trim() === 'yes');
    assert.ok((cluster.seen.get('installed snapshot from leader') ?? 0) >= 1, 'the new member caught up by InstallSnapshot');

    assert.match((await etcdctl([ep('m4')], 'put', 'on-learner', 'x')).out, /etcdserver: rpc not supported for learner/);
    assert.match((await etcdctl([ep('m4')], 'get', 'before-join')).out, /etcdserver: rpc not supported for learner/);

    const promote = await until('promote', 30_000, () => etcdctl([ep('m1')], 'member', 'promote', m4Id), (r) => r.code === 0);
    assert.match(promote.out, new RegExp(`Member\\s+${m4Id} promoted in cluster`));
    assert.match((await etcdctl([ep('m1')], 'member', 'promote', m4Id)).out, /etcdserver: can only promote a learner member/);

    const m1Id = (await memberList(ep('m2'))).find((m) => m.name === 'm1')!.id;
    const remove = await etcdctl([ep('m2')], 'member', 'remove', m1Id);
    assert.equal(remove.code, 0, remove.out);
    assert.match(remove.out, new RegExp(`Member\\s+${m1Id} removed from cluster`));
    // (If m1 led, the next leader commits the removal with its first entry: until then m1 is still listed.)
    await until('a second removal finds no such member', 20_000, () => etcdctl([ep('m2')], 'member', 'remove', m1Id), (r) => /etcdserver: member not found/.test(r.out));
    assert.ok(await cluster.exitedWithin('m1', 20_000), 'the removed member stops');

    for (const n of ['m2', 'm3', 'm4']) {
      const members = await until(`member list on ${n}`, 20_000, () => etcdctl([ep(n)], 'member', 'list'), (r) => r.code === 0 && !r.out.includes(', m1,'));
      assert.equal(members.out.trim().split('\n').length, 3, members.out);
      assert.match(members.out, new RegExp(`${m4Id}, started, m4, ${peerUrl}, http://${ep('m4')}, false`));
    }
    assert.equal((await etcdctl([ep('m4')], 'put', 'after-remove', 'ok')).code, 0);

    // member update: new peer URLs through the log, listed everywhere; then back. (The first URL
    // stays, so the member stays reachable: its peers dial the first one.)
    const m3 = (await memberList(ep('m2'))).find((m) => m.name === 'm3')!;
    const moved = `${m3.peerUrl},http://127.0.0.1:1`;
    const update = await etcdctl([ep('m4')], 'member', 'update', m3.id, `--peer-urls=${moved}`);
    assert.equal(update.code, 0, update.out);
    assert.match(update.out, new RegExp(`Member\\s+${m3.id} updated in cluster`));
    for (const n of ['m2', 'm3', 'm4']) {
      await until(`${n} lists the new peer URL`, 10_000, () => etcdctl([ep(n)], 'member', 'list'), (r) => r.out.includes(`${m3.id}, started, m3, ${moved},`));
    }
    assert.equal((await etcdctl([ep('m2')], 'member', 'update', m3.id, `--peer-urls=${m3.peerUrl}`)).code, 0);

    // The member that joined restarts from its own data directory.
    await cluster.kill('m4');
    cluster.launch('m4', ['--initial-cluster-state', 'existing']);
    await until('the restarted member serves linearizable reads', 30_000,
      () => etcdctl([ep('m4')], 'get', 'after-remove', '--print-value-only'), (r) => r.out.trim() === 'ok');
    const health = await etcdctl(['m2', 'm3', 'm4'].map(ep), 'endpoint', 'health');
    assert.equal(health.code, 0, health.out);
    assert.equal(health.out.match(/is healthy: successfully committed proposal/g)?.length, 3, health.out);
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    await cluster.stop();
  }
});

test('maintenance through etcdctl: endpoint status/health/hashkv, snapshot save and restore, move-leader, NOSPACE alarm, defrag', { timeout: 150_000, skip }, async () => {
  const quota = 16 * 1024;
  const cluster = await ProcessCluster.start(3, ['--quota-backend-bytes', String(quota)]);
  const restored: { child: ReturnType<typeof spawn> | null } = { child: null };
  try {
    const all = cluster.names.map((n) => cluster.endpoint(n));
    for (let i = 0; i < 5; i++) assert.equal((await etcdctl(all, 'put', `k${i}`, `v${i}`)).code, 0);

    const status = await until('same raft index everywhere', 20_000, () => etcdctl(all, 'endpoint', 'status', '-w', 'json'), (r) => {
      if (r.code !== 0) return false;
      const rows = JSON.parse(r.out) as { Status: { raftIndex: number } }[];
      return new Set(rows.map((x) => x.Status.raftIndex)).size === 1;
    });
    const rows = JSON.parse(status.out) as { Endpoint: string; Status: { header: { member_id: number }; leader: number; version: string; dbSize: number } }[];
    assert.equal(rows.length, 3);
    assert.equal(new Set(rows.map((x) => x.Status.leader)).size, 1, 'every member names the same leader');
    assert.ok(rows.every((x) => x.Status.version !== '' && x.Status.dbSize > 0));

    const health = await etcdctl(all, 'endpoint', 'health');
    assert.equal(health.code, 0, health.out);

    // /health and /metrics over HTTP/1.1 on the same client port as gRPC.
    const healthHttp = await fetch(`http://${all[1]}/health`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(healthHttp.status, 200);
    assert.deepEqual(await healthHttp.json(), { health: 'true', reason: '' });
    const metrics = await (await fetch(`http://${all[2]}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    for (const name of ['etcd_server_has_leader 1', 'etcd_server_leader_changes_seen_total', 'etcd_server_proposals_committed_total',
      'etcd_server_proposals_applied_total', 'etcd_server_proposals_pending', 'etcd_server_proposals_failed_total',
      'etcd_disk_wal_fsync_duration_seconds_bucket', 'etcd_disk_backend_commit_duration_seconds_bucket',
      'etcd_mvcc_db_total_size_in_bytes', 'etcd_debugging_mvcc_watcher_total']) {
      assert.ok(metrics.includes(name), `/metrics has ${name}`);
    }
    assert.equal((await fetch(`http://${all[0]}/nothing-here`, { signal: AbortSignal.timeout(10_000) })).status, 404);

    const hashes = await until('equal hashkv', 20_000, () => etcdctl(all, 'endpoint', 'hashkv', '-w', 'json'), (r) => {
      if (r.code !== 0) return false;
      return new Set((JSON.parse(r.out) as { HashKV: { hash: number } }[]).map((x) => x.HashKV.hash)).size === 1;
    });
    assert.ok((JSON.parse(hashes.out) as { HashKV: { hash: number } }[])[0]!.HashKV.hash !== 0);

    // snapshot save, then restore it as a new one-member cluster and read the data back.
    const file = join(cluster.dir, 'saved.db');
    const save = await etcdctl([all[0]!], 'snapshot', 'save', file);
    assert.equal(save.code, 0, save.out);
    assert.match(save.out, /Snapshot saved at/);
    const restoredDir = join(cluster.dir, 'restored');
    const peer = await freePort();
    const client = await freePort();
    const restore = spawnSync(process.execPath, [MAIN, 'snapshot', 'restore', file, '--data-dir', restoredDir, '--name', 'r1',
      '--initial-cluster', `r1=http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`], { timeout: 30_000 });
    assert.equal(restore.status, 0, String(restore.stderr));
    restored.child = spawn(process.execPath, [MAIN, 'serve', '--name', 'r1', '--data-dir', restoredDir,
      '--listen-client-urls', `http://127.0.0.1:${client}`, '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `r1=http://127.0.0.1:${peer}`], { stdio: 'ignore' });
    const got = await until('restored member serves the saved keys', 30_000,
      () => etcdctl([`127.0.0.1:${client}`], 'get', '--prefix', 'k', '--print-value-only'), (r) => r.code === 0 && r.out.trim() !== '');
    assert.deepEqual(got.out.trim().split('\n'), ['v0', 'v1', 'v2', 'v3', 'v4']);

    // move-leader: to a follower, through the leader's endpoint.
    const leader = await cluster.waitForLeader();
    const follower = cluster.names.find((n) => n !== leader)!;
    const followerId = (await memberList(cluster.endpoint(leader))).find((m) => m.name === follower)!.id;
    const move = await etcdctl([cluster.endpoint(leader)], 'move-leader', followerId);
    assert.equal(move.code, 0, move.out);
    assert.match(move.out, new RegExp(`Leadership transferred from [0-9a-f]+ to ${followerId}`));
    assert.equal(await cluster.waitForLeader(), follower);
    assert.match((await etcdctl(all, 'move-leader', 'ffff')).out, /etcdserver: bad leader transferee/);

    // NOSPACE: writes over the quota are refused until space is freed and the alarm disarmed.
    assert.equal((await etcdctl(all, 'alarm', 'list')).out.trim(), '');
    const big = 'x'.repeat(2048);
    let refused = '';
    for (let i = 0; i < 20 && refused === ''; i++) {
      const r = await etcdctl(all, 'put', 'big', big);
      if (r.code !== 0) refused = r.out;
    }
    assert.match(refused, /etcdserver: mvcc: database space exceeded/);
    const alarms = await until('NOSPACE listed', 10_000, () => etcdctl(all, 'alarm', 'list'), (r) => r.out.includes('alarm:NOSPACE'));
    assert.match(alarms.out, /^memberID:\d+ alarm:NOSPACE/m);
    const unhealthy = await fetch(`http://${all[0]}/health`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(unhealthy.status, 503);
    assert.deepEqual(await unhealthy.json(), { health: 'false', reason: 'ALARM NOSPACE' });
    assert.match((await etcdctl(all, 'put', 'small', 'x')).out, /etcdserver: mvcc: database space exceeded/, 'every write is refused while the alarm is on');
    assert.equal((await etcdctl(all, 'del', 'k0')).code, 0, 'deletes still work');
    const rev = (JSON.parse((await etcdctl([all[0]!], 'endpoint', 'status', '-w', 'json')).out) as { Status: { header: { revision: number } } }[])[0]!.Status.header.revision;
    assert.equal((await etcdctl(all, 'compact', String(rev))).code, 0);
    const defrag = await etcdctl(all, 'defrag');
    assert.equal(defrag.code, 0, defrag.out);
    assert.equal(defrag.out.match(/Finished defragmenting etcd member/g)?.length, 3, defrag.out);
    const disarm = await etcdctl(all, 'alarm', 'disarm');
    assert.equal(disarm.code, 0, disarm.out);
    assert.equal((await etcdctl(all, 'alarm', 'list')).out.trim(), '');
    assert.equal((await etcdctl(all, 'put', 'small', 'x')).code, 0, 'writes work again');
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    if (restored.child !== null) {
      const exited = new Promise((r) => restored.child!.once('exit', r));
      restored.child.kill('SIGKILL');
      await exited;
    }
    await cluster.stop();
  }
});
