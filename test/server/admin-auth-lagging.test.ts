/**
 * The admin check on a member that has not applied `auth enable` yet: it must not let an
 * anonymous caller through on the strength of its stale state. A follower is paused (SIGSTOP)
 * while auth is enabled, an anonymous Alarm ACTIVATE is queued to it, and it is resumed: it
 * catches up before it decides, and refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { ProcessCluster } from './process-cluster.js';
import { etcdService } from '../../src/server/proto.js';
import { adminService } from '../../src/server/admin-proto.js';
import { addRoot, unaryOn } from './raw-clients.js';

type Response = Record<string, unknown>;
const call = (client: grpc.Client, method: string, request: unknown, token?: string): Promise<Response> => unaryOn(client, method, request, token, 15_000);

const connect = (address: string, Ctor: grpc.ServiceClientConstructor): grpc.Client => new Ctor(address, grpc.credentials.createInsecure());

test('an anonymous Alarm ACTIVATE queued to a member that has not applied auth enable yet is refused, and raises nothing', { timeout: 120_000 }, async () => {
  const cluster = await ProcessCluster.start(3);
  try {
    const leader = await cluster.waitForLeader();
    const follower = cluster.names.find((n) => n !== leader)!;
    const anon = cluster.client(leader);
    await addRoot(anon);
    const { members } = await call(connect(cluster.endpoint(leader), adminService('Cluster')), 'MemberList', {}) as { members: { ID: string }[] };
    const victim = String(members[0]!.ID);
    const toFollower = connect(cluster.endpoint(follower), adminService('Maintenance'));
    await new Promise<void>((resolve, reject) => toFollower.waitForReady(Date.now() + 5_000, (e) => (e === undefined || e === null ? resolve() : reject(e))));
    const pid = cluster.pid(follower);
    process.kill(pid, 'SIGSTOP');
    let answer: unknown;
    try {
      await anon.auth.authEnable({});
      const pending = call(toFollower, 'Alarm', { action: 'ACTIVATE', memberID: victim, alarm: 'NOSPACE' }).then((r) => r, (e: unknown) => e);
      await sleep(200);
      process.kill(pid, 'SIGCONT');
      answer = await pending;
    } finally {
      try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    }
    assert.ok(answer instanceof Error && /user name is empty/.test(answer.message), `the follower answered ${answer instanceof Error ? answer.message : JSON.stringify(answer)}`);
    const { token } = await call(connect(cluster.endpoint(leader), etcdService('Auth')), 'Authenticate', { name: 'root', password: 'rootpw' }) as { token: string };
    const { alarms } = await call(connect(cluster.endpoint(leader), adminService('Maintenance')), 'Alarm', { action: 'GET' }, token) as { alarms?: unknown[] };
    assert.deepEqual(alarms ?? [], [], 'no alarm was raised');
    anon.close();
  } finally {
    await cluster.stop();
  }
});
