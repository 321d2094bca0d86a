/**
 * etcd's own command-line client (etcdctl 3.4, Debian's etcd-client) against a 3-process
 * cluster: watch, lease grant/keep-alive/timetolive/list/revoke, put --lease, lock and elect.
 * Every command talks to a follower, so requests that need the leader are forwarded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ProcessCluster } from './process-cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HAVE_ETCDCTL = spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;

async function eventually(what: string, check: () => boolean, boundMs = 15_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${boundMs} ms: ${what}`);
    await sleep(100);
  }
}

test('etcdctl 3.4: watch, lease, put --lease, lock, elect', {
  timeout: 120_000,
  skip: HAVE_ETCDCTL ? false : 'etcdctl is not installed (apt-get install -y etcd-client; .ci/run installs it)',
}, async (t) => {
  const cluster = await ProcessCluster.start(3);
  const children: ChildProcess[] = [];
  try {
    const leader = await cluster.waitForLeader();
    const follower = cluster.names.find((n) => n !== leader)!;
    const env = { ...process.env, ETCDCTL_API: '3' };
    const endpoints = `--endpoints=${cluster.endpoint(follower)}`;
    const ctl = (...args: string[]): Promise<string> => new Promise((resolve, reject) => {
      execFile('etcdctl', [endpoints, ...args], { env, timeout: 20_000 }, (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`etcdctl ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    /** A long-running etcdctl whose output is collected; killed at the end of the test. */
    const background = (...args: string[]): { out: () => string; child: ChildProcess } => {
      const child = spawn('etcdctl', [endpoints, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
      child.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
      return { out: () => out, child };
    };

    await t.test('watch --prefix --prev-kv sees puts and deletes; watch --rev replays', async () => {
      const first = await ctl('put', 'cw/a', '1', '-w', 'json');
      const rev = Number((JSON.parse(first) as { header: { revision: number } }).header.revision);
      const live = background('watch', '--prefix', 'cw/', '--prev-kv');
      await sleep(700);
      await ctl('put', 'cw/a', '2');
      await ctl('del', 'cw/a');
      await eventually('live watch output', () => live.out().includes('DELETE'));
      assert.equal(live.out(), 'PUT\ncw/a\n1\ncw/a\n2\nDELETE\ncw/a\n2\ncw/a\n\n');
      const replay = background('watch', 'cw/a', `--rev=${rev}`);
      await eventually('replayed history', () => replay.out().includes('DELETE'));
      assert.equal(replay.out(), 'PUT\ncw/a\n1\nPUT\ncw/a\n2\nDELETE\ncw/a\n\n');
    });

    await t.test('lease grant, put --lease, timetolive --keys, list, keep-alive, revoke', async () => {
      const granted = await ctl('lease', 'grant', '60');
      const m = /^lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(granted);
      assert.ok(m !== null, granted);
      const id = m[1]!;
      assert.equal(await ctl('put', '--lease', id, 'cl/k', 'v'), 'OK\n');
      const ttl = await ctl('lease', 'timetolive', id, '--keys');
      assert.match(ttl, new RegExp(`^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[cl/k\\]\\)`));
      assert.match(await ctl('lease', 'list'), new RegExp(`found \\d+ leases\\n(.*\\n)*${id}\\n`));
      assert.equal(await ctl('lease', 'keep-alive', '--once', id), `lease ${id} keepalived with TTL(60)\n`);
      const ka = background('lease', 'keep-alive', id);
      await eventually('streaming keep-alive', () => ka.out().includes('keepalived'));
      ka.child.kill();
      assert.equal(await ctl('lease', 'timetolive', '7777'), 'lease 0000000000007777 already expired\n');
      assert.equal(await ctl('lease', 'revoke', id), `lease ${id} revoked\n`);
      assert.equal(await ctl('get', 'cl/k'), '', 'revoking deleted the attached key');
      await assert.rejects(ctl('put', '--lease', id, 'cl/k', 'v'), /requested lease not found/);
    });

    await t.test('lock: exec under the lock; a second locker waits for the first', async () => {
      assert.equal(await ctl('lock', 'cl-lock', 'echo', 'inside'), 'inside\n');
      const holder = background('lock', 'cl-lock2');
      await eventually('first lock held', () => holder.out().startsWith('cl-lock2/'));
      const waiter = background('lock', 'cl-lock2');
      await sleep(1_000);
      assert.equal(waiter.out(), '', 'the second locker is still waiting');
      holder.child.kill('SIGINT');
      await eventually('second lock acquired after the first is released', () => waiter.out().startsWith('cl-lock2/'));
      waiter.child.kill('SIGINT');
    });

    await t.test('elect: a campaign wins, elect -l observes it, a second candidate takes over', async () => {
      const alice = background('elect', 'cl-elect', 'alice');
      await eventually('alice elected', () => alice.out().includes('alice'));
      const observer = background('elect', '-l', 'cl-elect');
      await eventually('observer sees alice', () => observer.out().includes('alice'));
      const bob = background('elect', 'cl-elect', 'bob');
      await sleep(1_000);
      assert.equal(bob.out(), '', 'bob waits while alice leads');
      alice.child.kill('SIGINT');
      await eventually('bob elected', () => bob.out().includes('bob'));
      await eventually('observer sees bob', () => observer.out().includes('bob'));
      bob.child.kill('SIGINT');
      observer.child.kill('SIGINT');
    });
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await cluster.stop();
  }
});
