/**
 * The Maintenance and Cluster services (and the Auth service's admin RPCs) with auth enabled
 * (issue 15), on a 3-process cluster: every admin RPC refuses an anonymous caller ("user name is empty"), a user without the role
 * root ("permission denied") and a bad token ("invalid auth token"), through the `etcd3` client
 * and through etcdctl 3.4; root's calls work, on a follower too (membership changes are
 * forwarded to the leader with the caller's token). Status, Alarm GET and MemberList stay open,
 * as in etcd. A snapshot root downloads holds no token key: no 32-byte field of it signs a token
 * the cluster accepts, and a cluster restored from it issues its own tokens. An alarm for a member
 * id that is not in the cluster is refused. Hash covers more than HashKV.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { noop } from 'cockatiel';
import { AlarmAction, AlarmType, Etcd3 } from 'etcd3';
import { unpack } from '../../src/core/codec.js';
import { adminService } from '../../src/server/admin-proto.js';
import { mintToken } from '../../src/server/auth-service.js';
import { decodeSnapshotFile } from '../../src/server/maintenance-service.js';
import { etcdService } from '../../src/server/proto.js';
import { ProcessCluster, errorOf, freePort } from './process-cluster.js';
import { addRoot, rawUnary } from './raw-clients.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const HAVE_ETCDCTL = spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const USER_EMPTY = /etcdserver: user name is empty/;
const DENIED = /etcdserver: permission denied/;
const BAD_TOKEN = /etcdserver: invalid auth token/;

function clientAs(endpoint: string, username: string, password: string): Etcd3 {
  return new Etcd3({
    hosts: `http://${endpoint}`,
    auth: { username, password },
    dialTimeout: 2_000,
    defaultCallOptions: () => ({ deadline: Date.now() + 8_000 }),
    faultHandling: { host: () => noop, global: noop },
  });
}

/** One raw unary call with the token of our choice (member ids as decimal strings). */
function rawCall<Res>(address: string, service: 'Maintenance' | 'Cluster' | 'Auth', method: string, request: object, token?: string): Promise<Res> {
  return rawUnary<Res>(address, service === 'Auth' ? etcdService('Auth') : adminService(service), method, request, token);
}

/** The whole Snapshot stream (body and trailing SHA-256) over a raw client with this token. */
function rawSnapshot(address: string, token?: string): Promise<Buffer> {
  const client = new (adminService('Maintenance'))(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('token', token);
  const stream = (client as unknown as { Snapshot(r: object, md: grpc.Metadata, o: grpc.CallOptions): grpc.ClientReadableStream<{ blob: Buffer }> })
    .Snapshot({}, metadata, { deadline: Date.now() + 15_000 });
  return collect(stream).finally(() => client.close());
}

function collect(stream: NodeJS.EventEmitter): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (r: { blob: Buffer }) => chunks.push(Buffer.from(r.blob)));
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

async function etcd3Snapshot(client: Etcd3): Promise<Buffer> {
  return collect(await client.maintenance.snapshot() as unknown as NodeJS.EventEmitter);
}

interface Run { code: number | null; out: string }

/** `input`: etcdctl's standard input (a password it reads there), empty unless given. */
function etcdctl(endpoint: string, args: readonly string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('etcdctl', [`--endpoints=${endpoint}`, '--dial-timeout=3s', '--command-timeout=20s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    // etcdctl reads its standard input only when it asks for a password: a command that exits
    // without reading it closes the pipe, and the write's EPIPE is not the test's failure.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

async function until<T>(what: string, boundMs: number, attempt: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = await attempt().catch((err: unknown) => err as T);
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms; last: ${v instanceof Error ? v.message : JSON.stringify(v)}`);
    await sleep(200);
  }
}

test('admin RPCs with auth enabled: refused without root, through the etcd3 client and etcdctl; no token key in a snapshot', { timeout: 240_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3);
  const clients: Etcd3[] = [];
  const as = (member: string, user: string, password: string): Etcd3 => {
    const c = clientAs(cluster.endpoint(member), user, password);
    clients.push(c);
    return c;
  };
  let restored: ChildProcess | null = null;
  try {
    const leader = await cluster.waitForLeader();
    const follower = cluster.names.find((n) => n !== leader)!;
    const anon = cluster.client(follower);
    await addRoot(anon);
    await anon.user('alice').create('alicepw');
    await (await anon.role('app').create()).grant({ permission: 'Readwrite', range: anon.range({ prefix: 'app/' }) });
    await anon.user('alice').addRole('app');
    await anon.put('app/before').value('snapshotted');
    await anon.auth.authEnable({});
    const root = as(follower, 'root', 'rootpw');
    const rootAtLeader = as(leader, 'root', 'rootpw');
    const alice = as(follower, 'alice', 'alicepw');
    const { token: rootToken } = await rawCall<{ token: string }>(cluster.endpoint(leader), 'Auth', 'Authenticate', { name: 'root', password: 'rootpw' });

    const members = (await anon.cluster.memberList({})).members;
    assert.equal(members.length, 3, 'MemberList stays open with auth enabled');
    const idOf = (name: string) => members.find((m) => m.name === name)!.ID;
    const [leaderId, followerId] = [idOf(leader), idOf(follower)];
    const other = cluster.names.find((n) => n !== leader && n !== follower)!;
    const peerUrl = members.find((m) => m.ID === followerId)!.peerURLs[0]!;

    /**
     * Every admin RPC, as `c` (a client of the follower) and `atLeader` see them (MoveLeader goes to
     * the leader). etcd3 1.1 cannot call HashKV (it looks for a method `hashKV` the loaded service
     * names `HashKV`), and its Snapshot stream carries no token: those two go raw, with `token`.
     */
    const adminCalls = (c: Etcd3, atLeader: Etcd3, token?: string): [string, () => Promise<unknown>][] => [
      ['Snapshot', () => (token === undefined ? etcd3Snapshot(c) : rawSnapshot(cluster.endpoint(follower), token))],
      ['Defragment', () => c.maintenance.defragment()],
      ['Alarm ACTIVATE', () => c.maintenance.alarm({ action: AlarmAction.Activate, memberID: followerId, alarm: AlarmType.Nospace })],
      ['Alarm DEACTIVATE', () => c.maintenance.alarm({ action: AlarmAction.Deactivate, memberID: followerId, alarm: AlarmType.Nospace })],
      ['Hash', () => c.maintenance.hash()],
      ['HashKV', () => rawCall(cluster.endpoint(follower), 'Maintenance', 'HashKV', {}, token)],
      ['MoveLeader', () => atLeader.maintenance.moveLeader({ targetID: followerId })],
      ['MemberAdd', () => c.cluster.memberAdd({ peerURLs: ['http://127.0.0.1:9'], isLearner: true })],
      ['MemberRemove', () => c.cluster.memberRemove({ ID: idOf(other) })],
      ['MemberUpdate', () => c.cluster.memberUpdate({ ID: followerId, peerURLs: ['http://127.0.0.1:9'] })],
      ['MemberPromote', () => c.cluster.memberPromote({ ID: followerId })],
    ];

    await t.test('etcd3, anonymous: every admin RPC answers "etcdserver: user name is empty"; Status, Alarm GET, MemberList stay open', async () => {
      for (const [name, call] of adminCalls(anon, cluster.client(leader))) assert.match(await errorOf(call()), USER_EMPTY, name);
      assert.ok((await anon.maintenance.status()).version !== '');
      assert.deepEqual((await anon.maintenance.alarm({ action: AlarmAction.Get, memberID: 0, alarm: AlarmType.None })).alarms, []);
      assert.equal((await anon.cluster.memberList({})).members.length, 3, 'nothing was added or removed');
      assert.equal(await cluster.waitForLeader(), leader, 'leadership did not move');
    });

    await t.test('etcd3, a user without the role root: "etcdserver: permission denied"; a bad token: "etcdserver: invalid auth token"', async () => {
      const aliceAtLeader = as(leader, 'alice', 'alicepw');
      const { token } = await rawCall<{ token: string }>(cluster.endpoint(follower), 'Auth', 'Authenticate', { name: 'alice', password: 'alicepw' });
      for (const [name, call] of adminCalls(alice, aliceAtLeader, token)) assert.match(await errorOf(call()), DENIED, name);
      assert.match(await errorOf(rawSnapshot(cluster.endpoint(follower), 'not-a-token')), BAD_TOKEN);
      assert.match(await errorOf(rawCall(cluster.endpoint(follower), 'Maintenance', 'Hash', {}, 'not-a-token')), BAD_TOKEN);
      assert.match(await errorOf(rawCall(cluster.endpoint(follower), 'Cluster', 'MemberAdd', { peerURLs: ['http://127.0.0.1:9'] }, 'not-a-token')), BAD_TOKEN);
      assert.equal((await anon.cluster.memberList({})).members.length, 3);
    });

    /** The Auth service's admin RPCs (etcd's needAdminPermission, and UserGet/RoleGet of another user or role). */
    const authAdminCalls = (c: Etcd3): [string, () => Promise<unknown>][] => [
      ['AuthEnable', () => c.auth.authEnable()],
      ['AuthDisable', () => c.auth.authDisable()],
      ['AuthStatus', () => c.auth.authStatus()],
      ['UserAdd', () => c.auth.userAdd({ name: 'eve', password: 'evepw' })],
      ['UserGet', () => c.auth.userGet({ name: 'root' })],
      ['UserList', () => c.auth.userList()],
      ['UserDelete', () => c.auth.userDelete({ name: 'alice' })],
      ['UserChangePassword', () => c.auth.userChangePassword({ name: 'alice', password: 'x' })],
      ['UserGrantRole', () => c.auth.userGrantRole({ user: 'alice', role: 'root' })],
      ['UserRevokeRole', () => c.auth.userRevokeRole({ name: 'alice', role: 'app' })],
      ['RoleAdd', () => c.auth.roleAdd({ name: 'ops' })],
      ['RoleGet', () => c.auth.roleGet({ role: 'root' })],
      ['RoleList', () => c.auth.roleList()],
      ['RoleDelete', () => c.auth.roleDelete({ role: 'app' })],
      ['RoleGrantPermission', () => c.auth.roleGrantPermission({ name: 'app', perm: { permType: 'Readwrite', key: Buffer.from('x'), range_end: Buffer.from('') } })],
      ['RoleRevokePermission', () => c.auth.roleRevokePermission({ role: 'app', key: Buffer.from('app/'), range_end: Buffer.from('app0') })],
    ];

    await t.test('etcd3: every Auth admin RPC answers "user name is empty" without a token, "permission denied" to alice', async () => {
      for (const [name, call] of authAdminCalls(anon)) assert.match(await errorOf(call()), USER_EMPTY, `${name}, anonymous`);
      for (const [name, call] of authAdminCalls(alice)) assert.match(await errorOf(call()), DENIED, `${name}, alice`);
      assert.deepEqual((await root.getUsers()).map((u) => u.name).sort(), ['alice', 'root'], 'no user was added or deleted');
      assert.equal(await alice.get('app/before').string(), 'snapshotted', 'alice keeps her role and password');
    });

    await t.test('etcd3, root: the admin RPCs work (membership changes through a follower are forwarded with the token)', async () => {
      assert.ok((await rawCall<{ hash: number }>(cluster.endpoint(follower), 'Maintenance', 'HashKV', {}, rootToken)).hash !== 0);
      assert.ok((await root.maintenance.hash()).hash !== undefined);
      await root.maintenance.defragment();
      assert.equal((await root.maintenance.alarm({ action: AlarmAction.Activate, memberID: followerId, alarm: AlarmType.Nospace })).alarms.length, 1);
      assert.match(await errorOf(root.put('app/x').value('1').exec()), /database space exceeded/);
      assert.equal((await root.maintenance.alarm({ action: AlarmAction.Deactivate, memberID: followerId, alarm: AlarmType.Nospace })).alarms.length, 1);
      await until('writes accepted again', 5_000, () => root.put('app/x').value('1').exec(), (r) => !(r instanceof Error));
      const added = await root.cluster.memberAdd({ peerURLs: ['http://127.0.0.1:9'], isLearner: true });
      assert.equal(added.members.length, 4);
      // Past the auth check: an unstarted learner is not in sync.
      assert.match(await errorOf(root.cluster.memberPromote({ ID: added.member.ID })), /can only promote a learner member which is in sync with leader/);
      assert.equal((await root.cluster.memberRemove({ ID: added.member.ID })).members.length, 3);
      assert.equal((await root.cluster.memberUpdate({ ID: followerId, peerURLs: [peerUrl] })).members.length, 3);
    });

    await t.test('Alarm ACTIVATE for a member id that is not in the cluster: "etcdserver: member not found"; DEACTIVATE of an alarm not raised: an empty list, as etcd', async () => {
      assert.match(await errorOf(root.maintenance.alarm({ action: AlarmAction.Activate, memberID: '12345', alarm: AlarmType.Nospace })), /etcdserver: member not found/);
      assert.deepEqual((await root.maintenance.alarm({ action: AlarmAction.Deactivate, memberID: '12345', alarm: AlarmType.Nospace })).alarms, []);
      assert.deepEqual((await root.maintenance.alarm({ action: AlarmAction.Get, memberID: 0, alarm: AlarmType.None })).alarms, []);
    });

    await t.test('Hash covers more than HashKV: a lease grant changes Hash, not HashKV', async () => {
      const before = await root.maintenance.hash();
      const hashKv = () => rawCall<{ hash: number }>(cluster.endpoint(follower), 'Maintenance', 'HashKV', {}, rootToken);
      const kvBefore = await hashKv();
      assert.notEqual(before.hash, kvBefore.hash, 'Hash is not HashKV');
      await root.lease(600, { autoKeepAlive: false }).grant();
      const after = await root.maintenance.hash();
      const kvAfter = await hashKv();
      assert.equal(kvAfter.hash, kvBefore.hash, 'the keys did not change');
      assert.notEqual(after.hash, before.hash, 'the leases did');
      // Every member that applied the same log answers the same Hash.
      const tokenFor = async (n: string) => (await rawCall<{ token: string }>(cluster.endpoint(n), 'Auth', 'Authenticate', { name: 'root', password: 'rootpw' })).token;
      const tokens = await Promise.all(cluster.names.map(tokenFor));
      await until('equal Hash on every member', 10_000,
        () => Promise.all(cluster.names.map((n, i) => rawCall<{ hash: number }>(cluster.endpoint(n), 'Maintenance', 'Hash', {}, tokens[i]))),
        (r) => Array.isArray(r) && new Set(r.map((x) => x.hash)).size === 1);
    });

    const snapshotFile = join(cluster.dir, 'root.snapshot');
    await t.test('root\'s snapshot holds no token key: a root token signed with any 32-byte field of it is refused', async () => {
      const file = await rawSnapshot(cluster.endpoint(follower), rootToken);
      writeFileSync(snapshotFile, file);
      const state = unpack(decodeSnapshotFile(file).stateMachine) as { auth: { tokenKey: unknown; users: [string, unknown, string[], number][] } };
      const rootRevision = state.auth.users.find(([name]) => name === 'root')![3];
      // Every 32-byte binary field (MessagePack bin 8 of length 32): password hashes, and the token key if it were there.
      const candidates: Buffer[] = [];
      for (let at = file.indexOf(Buffer.from([0xc4, 0x20])); at >= 0; at = file.indexOf(Buffer.from([0xc4, 0x20]), at + 1)) {
        candidates.push(file.subarray(at + 2, at + 34));
      }
      assert.ok(candidates.length >= 2, 'the password hashes of root and alice are there to try');
      for (const key of candidates) {
        const forged = mintToken(key, 'root', rootRevision, 60_000, Date.now());
        assert.match(await errorOf(rawCall(cluster.endpoint(leader), 'Maintenance', 'HashKV', {}, forged)), BAD_TOKEN, 'a token signed with a field of the snapshot');
      }
      assert.equal(state.auth.tokenKey, null);
    });

    await t.test('a cluster restored from that snapshot issues its own tokens: root authenticates there, the old cluster\'s token is refused', async () => {
      const dataDir = join(cluster.dir, 'restored');
      const peer = await freePort();
      const client = await freePort();
      const r = spawnSync(process.execPath, [MAIN, 'snapshot', 'restore', snapshotFile, '--data-dir', dataDir, '--name', 'r1',
        '--initial-cluster', `r1=http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`], { timeout: 30_000 });
      assert.equal(r.status, 0, String(r.stderr));
      restored = spawn(process.execPath, [MAIN, 'serve', '--name', 'r1', '--data-dir', dataDir,
        '--listen-client-urls', `http://127.0.0.1:${client}`, '--listen-peer-urls', `http://127.0.0.1:${peer}`,
        '--initial-cluster', `r1=http://127.0.0.1:${peer}`], { stdio: 'ignore' });
      const at = `127.0.0.1:${client}`;
      await until('the restored member answers', 20_000, () => rawCall(at, 'Maintenance', 'Status', {}), (v) => !(v instanceof Error));
      assert.match(await errorOf(rawCall(at, 'Maintenance', 'HashKV', {}, rootToken)), BAD_TOKEN, 'the old cluster\'s token');
      assert.match(await errorOf(rawCall(at, 'Maintenance', 'HashKV', {})), USER_EMPTY, 'auth is still enabled');
      const rootThere = clientAs(at, 'root', 'rootpw');
      clients.push(rootThere);
      assert.equal(await rootThere.get('app/before').string(), 'snapshotted');
      const aliceThere = clientAs(at, 'alice', 'alicepw');
      clients.push(aliceThere);
      assert.equal(await aliceThere.get('app/before').string(), 'snapshotted');
    });

    const etcdctlSkip = HAVE_ETCDCTL ? false : 'etcdctl is not installed (Debian package etcd-client)';
    await t.test('etcdctl 3.4: anonymous and non-root callers are refused by every admin command; root is not', { skip: etcdctlSkip }, async () => {
      const hex = (id: string) => BigInt(id).toString(16);
      const commands: [string, string[]][] = [
        ['snapshot save', ['snapshot', 'save', join(cluster.dir, 'etcdctl.snapshot')]],
        ['defrag', ['defrag']],
        ['endpoint hashkv', ['endpoint', 'hashkv']],
        ['alarm disarm', ['alarm', 'disarm']],
        ['move-leader', ['move-leader', hex(followerId)]],
        ['member add', ['member', 'add', 'm9', '--peer-urls=http://127.0.0.1:9', '--learner']],
        ['member remove', ['member', 'remove', hex(idOf(other))]],
        ['member update', ['member', 'update', hex(followerId), '--peer-urls=http://127.0.0.1:9']],
        ['member promote', ['member', 'promote', hex(followerId)]],
        // The Auth service's admin commands (etcd 3.4's etcdctl has no `auth status`).
        ['auth enable', ['auth', 'enable']],
        ['auth disable', ['auth', 'disable']],
        ['user add', ['user', 'add', 'eve:evepw']],
        ['user get', ['user', 'get', 'root']],
        ['user list', ['user', 'list']],
        ['user delete', ['user', 'delete', 'alice']],
        ['user passwd', ['user', 'passwd', 'alice', '--interactive=false']],
        ['user grant-role', ['user', 'grant-role', 'alice', 'root']],
        ['user revoke-role', ['user', 'revoke-role', 'alice', 'app']],
        ['role add', ['role', 'add', 'ops']],
        ['role get', ['role', 'get', 'root']],
        ['role list', ['role', 'list']],
        ['role delete', ['role', 'delete', 'app']],
        ['role grant-permission', ['role', 'grant-permission', 'app', 'readwrite', 'x']],
        ['role revoke-permission', ['role', 'revoke-permission', 'app', 'app/', '--prefix']],
      ];
      // `alarm disarm` lists the alarms (open to anyone) and disarms each: raise one for it to disarm.
      const raise = () => rootAtLeader.maintenance.alarm({ action: AlarmAction.Activate, memberID: leaderId, alarm: AlarmType.Nospace });
      const ep = (n: string) => cluster.endpoint(n);
      for (const [who, flags, expected] of [['anonymous', [], USER_EMPTY], ['alice', ['--user', 'alice:alicepw'], DENIED]] as const) {
        await raise();
        for (const [name, args] of commands) {
          const r = await etcdctl(ep(name === 'move-leader' ? leader : follower), [...flags, ...args], name === 'user passwd' ? 'newpw\n' : undefined);
          assert.notEqual(r.code, 0, `etcdctl ${name} as ${who} should fail:\n${r.out}`);
          assert.match(r.out, expected, `etcdctl ${name} as ${who}`);
        }
      }
      assert.equal((await etcdctl(ep(follower), ['member', 'list'])).code, 0, 'member list is open');
      assert.match((await etcdctl(ep(follower), ['alarm', 'list'])).out, /alarm:NOSPACE/, 'alarm list is open');
      const asRoot = ['--user', 'root:rootpw'];
      for (const args of [['alarm', 'disarm'], ['snapshot', 'save', join(cluster.dir, 'root-etcdctl.snapshot')], ['defrag'], ['endpoint', 'hashkv']]) {
        const r = await etcdctl(ep(follower), [...asRoot, ...args]);
        assert.equal(r.code, 0, `etcdctl ${args.join(' ')} as root:\n${r.out}`);
      }
      assert.equal((await etcdctl(ep(follower), ['alarm', 'list'])).out.trim(), '');
      const move = await etcdctl(ep(leader), [...asRoot, 'move-leader', hex(followerId)]);
      assert.equal(move.code, 0, move.out);
      assert.equal(await cluster.waitForLeader(), follower);
    });
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    for (const c of clients) c.close();
    if (restored !== null) {
      const child: ChildProcess = restored;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await cluster.stop();
  }
});
