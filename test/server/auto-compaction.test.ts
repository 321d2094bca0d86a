/**
 * Auto-compaction as etcd's flags set it: the retention parsed as etcd parses it, the compactor's
 * schedule on an injected clock (periodic: the revision of `retention` ago; revision: `current -
 * retention` every five minutes; only while leading; a failed compaction tried again), and one
 * in-process cluster whose history is compacted away on its own, with auth enabled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { AutoCompactor, parseAutoCompaction, REVISION_CHECK_INTERVAL_MS, type AutoCompactionOptions } from '../../src/server/auto-compaction.js';
import { startMember } from '../../src/server/index.js';
import { errorOf, freePort } from './process-cluster.js';

test('--auto-compaction-retention is read as etcd reads it', () => {
  assert.equal(parseAutoCompaction('periodic', '0'), null);
  assert.equal(parseAutoCompaction('revision', ''), null);
  // etcd parses a zero duration to 0, which is off (not an error).
  assert.equal(parseAutoCompaction('periodic', '0h'), null);
  assert.equal(parseAutoCompaction('periodic', '0s'), null);
  assert.deepEqual(parseAutoCompaction('periodic', '1'), { mode: 'periodic', retention: 3_600_000 });
  assert.deepEqual(parseAutoCompaction('periodic', '0.5'), { mode: 'periodic', retention: 1_800_000 });
  assert.deepEqual(parseAutoCompaction('periodic', '90m'), { mode: 'periodic', retention: 5_400_000 });
  assert.deepEqual(parseAutoCompaction('periodic', '1h30m'), { mode: 'periodic', retention: 5_400_000 });
  assert.deepEqual(parseAutoCompaction('periodic', '1500ms'), { mode: 'periodic', retention: 1500 });
  assert.deepEqual(parseAutoCompaction('revision', '1000'), { mode: 'revision', retention: 1000 });
  for (const [mode, bad] of [['periodic', '1x'], ['periodic', 'h'], ['periodic', '-1h'], ['revision', '1.5'], ['revision', '10m'], ['hourly', '1']]) {
    assert.throws(() => parseAutoCompaction(mode!, bad!), /auto-compaction/, `${mode} ${bad}`);
  }
});

/** A compactor on a clock the test moves, over a store whose revision the test sets. */
function rig(o: AutoCompactionOptions, failures = 0) {
  let now = 0;
  let timer: { at: number; fn: () => void } | null = null;
  const state = { revision: 1, compacted: 0, leading: true, failuresLeft: failures, asked: [] as number[] };
  const c = new AutoCompactor(o, {
    nowMs: () => now,
    setTimer: (ms, fn) => {
      timer = { at: now + ms, fn };
      return () => { timer = null; };
    },
    revision: () => state.revision,
    compactedRevision: () => state.compacted,
    leading: () => state.leading,
    compact: async (revision) => {
      state.asked.push(revision);
      if (state.failuresLeft-- > 0) throw new Error('not leader any more');
      state.compacted = revision;
    },
    log: () => {},
  });
  /** Advance the clock by `ms`, firing the timer each time it falls due (and settling the compaction it starts). */
  const advance = async (ms: number, each: () => void = () => {}) => {
    const end = now + ms;
    while (timer !== null && timer.at <= end) {
      now = timer.at;
      each();
      const t = timer;
      timer = null;
      t.fn();
      await new Promise((r) => setImmediate(r));
    }
    now = end;
  };
  return { c, state, advance };
}

test('periodic: the store is compacted to the revision it had one retention ago, sampled every tenth of it', async () => {
  const { c, state, advance } = rig({ mode: 'periodic', retention: 10 * 60_000 });
  c.start(); // samples revision 1 at 0:00
  // One write a second: 60 revisions between samples (taken every minute).
  const writes = () => { state.revision += 60; };
  await advance(9 * 60_000, writes);
  assert.deepEqual(state.asked, [], 'no sample is a whole retention old yet');
  await advance(60_000, writes);
  assert.deepEqual(state.asked, [1], 'at 10:00, the revision sampled at 0:00');
  await advance(60_000, writes);
  assert.deepEqual(state.asked, [1, 61], 'at 11:00, the one sampled at 1:00');
  assert.equal(state.compacted, 61);
  c.stop();
});

test('periodic: a member that does not lead proposes nothing, and takes over with the history it sampled', async () => {
  const { c, state, advance } = rig({ mode: 'periodic', retention: 10 * 60_000 });
  state.leading = false;
  c.start();
  await advance(30 * 60_000, () => { state.revision += 100; });
  assert.deepEqual(state.asked, []);
  state.leading = true;
  await advance(60_000, () => { state.revision += 100; });
  assert.equal(state.asked.length, 1);
  assert.ok(state.asked[0]! >= state.revision - 1200 && state.asked[0]! <= state.revision - 900, `compacted to about ten minutes ago (${state.asked[0]} of ${state.revision})`);
  c.stop();
});

test('revision: every five minutes, to the current revision less the retention; a failed compaction is tried again', async () => {
  const { c, state, advance } = rig({ mode: 'revision', retention: 1000 }, 1);
  c.start();
  state.revision = 800;
  await advance(REVISION_CHECK_INTERVAL_MS);
  assert.deepEqual(state.asked, [], 'fewer revisions than the retention: nothing to drop');
  state.revision = 5000;
  await advance(REVISION_CHECK_INTERVAL_MS);
  assert.deepEqual(state.asked, [4000]);
  assert.equal(state.compacted, 0, 'the first attempt failed');
  state.revision = 5200;
  await advance(REVISION_CHECK_INTERVAL_MS);
  assert.deepEqual(state.asked, [4000, 4200]);
  assert.equal(state.compacted, 4200);
  await advance(REVISION_CHECK_INTERVAL_MS);
  assert.deepEqual(state.asked, [4000, 4200], 'nothing new to drop: no proposal');
  c.stop();
  await advance(10 * REVISION_CHECK_INTERVAL_MS, () => { state.revision += 5000; });
  assert.equal(state.asked.length, 2, 'stopped: no more checks');
});

test('a cluster with --auto-compaction-mode periodic compacts its own history, with auth enabled', async () => {
  const names = ['m1', 'm2', 'm3'];
  const ports: number[] = [];
  for (let i = 0; i < 2 * names.length; i++) ports.push(await freePort());
  const peer = (i: number) => `http://127.0.0.1:${ports[names.length + i]!}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[i]!}`;
  const dir = mkdtempSync(join(tmpdir(), 'quorate-autocompact-'));
  const members = await Promise.all(names.map((name, i) => startMember({
    name, protocol: 'raft', dataDir: join(dir, name), listenClientUrls: [clientUrl(i)], advertiseClientUrls: [clientUrl(i)], listenPeerUrls: [peer(i)],
    initialAdvertisePeerUrls: [peer(i)], initialCluster: names.map((n, j) => `${n}=${peer(j)}`).join(','), initialClusterState: 'new',
    initialClusterToken: 'autocompact', clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50, electionTimeoutMs: 500,
    maxRequestBytes: 1572864, maxTxnOps: 128, logger: () => {},
    autoCompaction: parseAutoCompaction('periodic', '1500ms'),
  })));
  const anon = new Etcd3({ hosts: clientUrl(0) });
  let root: Etcd3 | null = null;
  try {
    await anon.user('root').create('rootpw');
    await anon.user('root').addRole('root');
    await anon.auth.authEnable();
    root = new Etcd3({ hosts: clientUrl(1), auth: { username: 'root', password: 'rootpw' } });
    const first = Number((await root.put('k').value('v1').exec()).header.revision);
    await root.put('k').value('v2').exec();
    assert.equal(await root.get('k').revision(first).string(), 'v1', 'the old revision is there before the retention passes');
    // Keep writing for a while: samples are taken every 150 ms, and 1.5 s after the first the
    // leader compacts to it.
    let compacted = false;
    for (let i = 0; i < 80 && !compacted; i++) {
      await root.put('k').value(`v${i + 3}`).exec();
      await new Promise((r) => setTimeout(r, 50));
      compacted = /etcdserver: mvcc: required revision has been compacted/.test(await errorOf(root.get('k').revision(first).string()));
    }
    assert.ok(compacted, 'the first revision was compacted away without anyone asking');
    assert.match((await root.get('k').string()) ?? '', /^v\d+$/, 'the current value is kept');
  } finally {
    anon.close();
    root?.close();
    await Promise.all(members.map((m) => m.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
});
