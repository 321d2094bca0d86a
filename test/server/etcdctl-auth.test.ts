/**
 * etcdctl 3.4 (Debian's etcd-client) drives auth on a 3-process cluster: user, role and auth
 * commands with etcdctl's own output, then get/put as a user with and without permission. The
 * outputs compared are what etcdctl prints against an etcd server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { ProcessCluster } from './process-cluster.js';

const ETCDCTL = 'etcdctl';
const haveEtcdctl = spawnSync(ETCDCTL, ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;

interface Run { code: number | null; out: string; err: string }

/** One etcdctl command against `endpoints`, bounded in time; stdin optional (for passwords). */
function etcdctl(endpoints: string, args: readonly string[], stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(ETCDCTL, [`--endpoints=${endpoints}`, '--dial-timeout=3s', '--command-timeout=20s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      // etcdctl logs each failed attempt as a JSON line; keep only its own message.
      resolve({ code, out: out.trim(), err: err.split('\n').filter((l) => !l.startsWith('{')).join('\n').trim() });
    });
    // etcdctl reads its standard input only when it asks for a password (see admin-auth.test.ts).
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}

test('etcdctl 3.4: user, role and auth commands, then get/put with and without permission', { timeout: 180_000, skip: haveEtcdctl ? false : 'etcdctl is not installed (Debian package etcd-client; .ci/run installs it)' }, async (t) => {
  const cluster = await ProcessCluster.start(3);
  try {
    await cluster.waitForLeader();
    const endpoints = cluster.names.map((n) => cluster.endpoint(n)).join(',');
    const run = (args: readonly string[], stdin?: string) => etcdctl(endpoints, args, stdin);
    const ok = async (args: readonly string[], expected: string, stdin?: string) => {
      const r = await run(args, stdin);
      assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.err}`);
      assert.equal(r.out, expected, `etcdctl ${args.join(' ')}`);
    };
    const fails = async (args: readonly string[], message: string) => {
      const r = await run(args);
      assert.notEqual(r.code, 0, `etcdctl ${args.join(' ')} should fail`);
      assert.equal(r.err, `Error: ${message}`, `etcdctl ${args.join(' ')}`);
    };
    const root = ['--user', 'root:rootpw'];

    await t.test('auth enable without a root user fails; with one, etcdctl adds the root role itself', async () => {
      await fails(['auth', 'enable'], 'etcdserver: root user does not exist');
      await ok(['user', 'add', 'root:rootpw'], 'User root created');
      await ok(['auth', 'enable'], 'Authentication Enabled');
      await fails(['user', 'list'], 'etcdserver: user name is empty');
      await ok([...root, 'role', 'list'], 'root');
      await ok([...root, 'user', 'get', 'root'], 'User: root\nRoles: root');
    });

    await t.test('user add/list/get and role add/list/grant-permission (key, range, --prefix, --from-key)', async () => {
      await ok([...root, 'user', 'add', 'alice:alicepw'], 'User alice created');
      await fails([...root, 'user', 'add', 'alice:other'], 'etcdserver: user name already exists');
      await ok([...root, 'user', 'list'], 'alice\nroot');
      await ok([...root, 'role', 'add', 'app'], 'Role app created');
      await fails([...root, 'role', 'add', 'app'], 'etcdserver: role name already exists');
      await ok([...root, 'role', 'grant-permission', 'app', 'read', 'config'], 'Role app updated');
      await ok([...root, 'role', 'grant-permission', '--prefix', 'app', 'readwrite', 'app/'], 'Role app updated');
      await ok([...root, 'role', 'grant-permission', 'app', 'write', 'r1', 'r5'], 'Role app updated');
      await ok([...root, 'role', 'grant-permission', '--from-key', 'app', 'read', 'z'], 'Role app updated');
      await ok([...root, 'role', 'list'], 'app\nroot');
      await ok([...root, 'role', 'get', 'app'],
        'Role app\nKV Read:\n\t[app/, app0) (prefix app/)\n\tconfig\n\t[z, <open ended>\nKV Write:\n\t[app/, app0) (prefix app/)\n\t[r1, r5)');
      await fails([...root, 'role', 'grant-permission', 'ghost', 'read', 'x'], 'etcdserver: role name not found');
      await ok([...root, 'user', 'grant-role', 'alice', 'app'], 'Role app is granted to user alice');
      await fails([...root, 'user', 'grant-role', 'alice', 'ghost'], 'etcdserver: role name not found');
      await fails([...root, 'user', 'grant-role', 'ghost', 'app'], 'etcdserver: user name not found');
      await ok([...root, 'user', 'get', 'alice'], 'User: alice\nRoles: app');
      await ok([...root, 'put', 'config', 'c1'], 'OK');
      await ok([...root, 'put', 'secret', 's1'], 'OK');
    });

    await t.test('get/put as a user: allowed where its role grants, "permission denied" elsewhere', async () => {
      const alice = ['--user', 'alice:alicepw'];
      await ok([...alice, 'get', 'config'], 'config\nc1');
      await fails([...alice, 'put', 'config', 'x'], 'etcdserver: permission denied');
      await ok([...alice, 'put', 'app/a', '1'], 'OK');
      await ok([...alice, 'get', '--prefix', 'app/'], 'app/a\n1');
      await fails([...alice, 'get', 'secret'], 'etcdserver: permission denied');
      await fails([...alice, 'get', '--prefix', ''], 'etcdserver: permission denied');
      await ok([...alice, 'put', 'r3', 'w'], 'OK');
      await fails([...alice, 'get', 'r3'], 'etcdserver: permission denied');
      await fails([...alice, 'put', 'r5', 'w'], 'etcdserver: permission denied');
      await ok([...alice, 'get', 'zz'], '');
      await fails([...alice, 'user', 'list'], 'etcdserver: permission denied');
      await ok([...alice, 'user', 'get', 'alice'], 'User: alice\nRoles: app');
      await fails(['--user', 'alice:wrong', 'get', 'config'], 'etcdserver: authentication failed, invalid user ID or password');
      await fails(['get', 'config'], 'etcdserver: user name is empty');
    });

    await t.test('revoke-permission (range and --prefix), passwd, revoke-role, and root\'s protections', async () => {
      const alice = ['--user', 'alice:alicepw'];
      await ok([...root, 'role', 'revoke-permission', 'app', 'r1', 'r5'], 'Permission of range [r1, r5) is revoked from role app');
      await fails([...root, 'role', 'revoke-permission', 'app', 'r1', 'r5'], 'etcdserver: permission is not granted to the role');
      await fails([...alice, 'put', 'r3', 'w'], 'etcdserver: permission denied');
      await ok([...root, 'role', 'revoke-permission', '--prefix', 'app', 'app/'], 'Permission of range [app/, app0) is revoked from role app');
      await fails([...alice, 'get', 'app/a'], 'etcdserver: permission denied');
      await ok([...root, 'role', 'revoke-permission', 'app', 'config'], 'Permission of key config is revoked from role app');
      await ok([...root, 'user', 'passwd', 'alice', '--interactive=false'], 'Password updated', 'newpw\n');
      await fails(alice.concat(['get', 'zz']), 'etcdserver: authentication failed, invalid user ID or password');
      await ok(['--user', 'alice:newpw', 'get', 'zz'], '');
      await ok([...root, 'user', 'revoke-role', 'alice', 'app'], 'Role app is revoked from user alice');
      await fails([...root, 'user', 'revoke-role', 'alice', 'app'], 'etcdserver: role is not granted to the user');
      await fails(['--user', 'alice:newpw', 'get', 'zz'], 'etcdserver: permission denied');
      await fails([...root, 'user', 'revoke-role', 'root', 'root'], 'etcdserver: invalid auth management');
      await fails([...root, 'user', 'delete', 'root'], 'etcdserver: invalid auth management');
      await fails([...root, 'role', 'delete', 'root'], 'etcdserver: invalid auth management');
    });

    await t.test('role delete, user delete, auth disable: everything is allowed again', async () => {
      await ok([...root, 'role', 'delete', 'app'], 'Role app deleted');
      await fails([...root, 'role', 'delete', 'app'], 'etcdserver: role name not found');
      await fails([...root, 'role', 'get', 'app'], 'etcdserver: role name not found');
      await ok([...root, 'user', 'delete', 'alice'], 'User alice deleted');
      await fails([...root, 'user', 'delete', 'alice'], 'etcdserver: user name not found');
      await fails([...root, 'user', 'get', 'alice'], 'etcdserver: user name not found');
      await ok([...root, 'auth', 'disable'], 'Authentication Disabled');
      await ok(['get', 'secret'], 'secret\ns1');
      await ok(['put', 'secret', 's2'], 'OK');
      await ok(['user', 'list'], 'root');
    });
  } finally {
    await cluster.stop();
  }
});
