/**
 * An etcd deployment's configuration, unchanged, starts a quorate cluster: three members from
 * ETCD_* environment variables only (as a container or Kubernetes manifest sets them), and three
 * from etcd YAML config files laid out as etcd's documented sample. etcdctl 3.4 (Debian's
 * etcd-client) then works against each cluster.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memberStatus } from '../../src/server/proto.js';
import { freePort } from '../ports.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const HAVE_ETCDCTL = spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;
const SKIP = HAVE_ETCDCTL ? false : 'etcdctl is not installed (apt-get install -y etcd-client; .ci/run installs it)';
const NAMES = ['infra0', 'infra1', 'infra2'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Member { name: string; client: number; peer: number }

/** The environment without any ETCD_* variable of the test runner's own. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
}

async function layout(): Promise<Member[]> {
  const out: Member[] = [];
  for (const name of NAMES) out.push({ name, client: await freePort(), peer: await freePort() });
  return out;
}

const initialCluster = (ms: readonly Member[]): string => ms.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');

/** Starts `quorate serve` with no flags but these; its output is kept for a failure's report. */
function start(args: readonly string[], env: NodeJS.ProcessEnv, output: string[]): ChildProcess {
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => { output.push(...d.toString().split('\n').filter((l) => l !== '')); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

async function waitForLeader(ms: readonly Member[], output: string[], boundMs = 30_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    try {
      const statuses = await Promise.all(ms.map((m) => memberStatus(`127.0.0.1:${m.client}`, 1_000)));
      const leaders = new Set(statuses.map((s) => s.leader));
      if (leaders.size === 1 && !leaders.has(0)) return;
    } catch {
      // still starting
    }
    if (Date.now() > deadline) throw new Error(`no agreed leader within ${boundMs} ms\n${output.slice(-40).join('\n')}`);
    await sleep(200);
  }
}

function etcdctl(ms: readonly Member[], ...args: string[]): Promise<string> {
  const endpoints = `--endpoints=${ms.map((m) => `127.0.0.1:${m.client}`).join(',')}`;
  return new Promise((resolve, reject) => {
    execFile('etcdctl', [endpoints, ...args], { env: { ...cleanEnv(), ETCDCTL_API: '3' }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`etcdctl ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** What both clusters must do for etcdctl: writes and reads through different members, the member list. */
async function etcdctlWorks(ms: readonly Member[]): Promise<void> {
  const [a, b, c] = ms;
  assert.equal(await etcdctl([a!], 'put', 'deploy/key', 'value'), 'OK\n');
  assert.equal(await etcdctl([b!], 'get', 'deploy/key', '--print-value-only'), 'value\n');
  assert.equal(await etcdctl([c!], 'get', 'deploy/key', '--print-value-only', '--consistency=s'), 'value\n');
  const list = await etcdctl(ms, 'member', 'list');
  for (const m of ms) assert.match(list, new RegExp(`, started, ${m.name}, http://127\\.0\\.0\\.1:${m.peer}, http://127\\.0\\.0\\.1:${m.client}`));
  const status = JSON.parse(await etcdctl(ms, 'endpoint', 'status', '-w', 'json')) as { Status: { leader: string } }[];
  assert.equal(status.length, 3);
  assert.equal(new Set(status.map((s) => String(s.Status.leader))).size, 1, 'every member names the same leader');
}

async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(children.map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  })));
}

test('a 3-member cluster started only from ETCD_* variables; etcdctl works against it', { timeout: 120_000, skip: SKIP }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-etcd-env-'));
  const ms = await layout();
  const output: string[] = [];
  const children: ChildProcess[] = [];
  try {
    for (const m of ms) {
      children.push(start([], {
        ...cleanEnv(),
        ETCD_NAME: m.name,
        ETCD_DATA_DIR: join(dir, `${m.name}.etcd`),
        ETCD_LISTEN_CLIENT_URLS: `http://127.0.0.1:${m.client}`,
        ETCD_ADVERTISE_CLIENT_URLS: `http://127.0.0.1:${m.client}`,
        ETCD_LISTEN_PEER_URLS: `http://127.0.0.1:${m.peer}`,
        ETCD_INITIAL_ADVERTISE_PEER_URLS: `http://127.0.0.1:${m.peer}`,
        ETCD_INITIAL_CLUSTER: initialCluster(ms),
        ETCD_INITIAL_CLUSTER_STATE: 'new',
        ETCD_INITIAL_CLUSTER_TOKEN: 'etcd-cluster-env',
        ETCD_HEARTBEAT_INTERVAL: '50',
        ETCD_ELECTION_TIMEOUT: '500',
        // An etcd setting quorate does not have: named in a warning, not silently dropped.
        ETCD_MAX_WALS: '5',
      }, output));
    }
    await waitForLeader(ms, output);
    await etcdctlWorks(ms);
    assert.ok(output.some((l) => /warn .*quorate does not have: ETCD_MAX_WALS/.test(l)), output.join('\n'));
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 3-member cluster started from etcd YAML config files as etcd\'s documentation writes them; etcdctl works against it', { timeout: 120_000, skip: SKIP }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-etcd-yaml-'));
  const ms = await layout();
  const output: string[] = [];
  const children: ChildProcess[] = [];
  try {
    for (const m of ms) {
      const file = join(dir, `${m.name}.conf.yml`);
      // etcd's etcd.conf.yml.sample, its comments kept, filled in for this member.
      writeFileSync(file, `# This is the configuration file for the etcd server.

# Human-readable name for this member.
name: '${m.name}'

# Path to the data directory.
data-dir: ${join(dir, `${m.name}.etcd`)}

# Path to the dedicated wal directory.
wal-dir:

# Number of committed transactions to trigger a snapshot to disk.
snapshot-count: 10000

# Time (in milliseconds) of a heartbeat interval.
heartbeat-interval: 50

# Time (in milliseconds) for an election to timeout.
election-timeout: 500

# Raise alarms when backend size exceeds the given quota. 0 means use the
# default quota.
quota-backend-bytes: 0

# List of comma separated URLs to listen on for peer traffic.
listen-peer-urls: http://127.0.0.1:${m.peer}

# List of comma separated URLs to listen on for client traffic.
listen-client-urls: http://127.0.0.1:${m.client}

# Maximum number of snapshot files to retain (0 is unlimited).
max-snapshots: 5

# List of this member's peer URLs to advertise to the rest of the cluster.
# The URLs needed to be a comma-separated list.
initial-advertise-peer-urls: http://127.0.0.1:${m.peer}

# List of this member's client URLs to advertise to the public.
# The URLs needed to be a comma-separated list.
advertise-client-urls: http://127.0.0.1:${m.client}

# Comma separated string of initial cluster configuration for bootstrapping.
initial-cluster: "${initialCluster(ms)}"

# Initial cluster token for the etcd cluster during bootstrap.
initial-cluster-token: 'etcd-cluster-yaml'

# Initial cluster state ('new' or 'existing').
initial-cluster-state: 'new'

client-transport-security:
  # Path to the client server TLS cert file.
  cert-file:

  # Path to the client server TLS key file.
  key-file:

  # Enable client cert authentication.
  client-cert-auth: false

  # Path to the client server TLS trusted CA cert file.
  trusted-ca-file:

  # Client TLS using generated certificates
  auto-tls: false

# Enable info-level logging for etcd.
log-level: info

auto-compaction-mode: periodic
auto-compaction-retention: "1"
`);
      children.push(start([`--config-file=${file}`], cleanEnv(), output));
    }
    await waitForLeader(ms, output);
    await etcdctlWorks(ms);
    assert.ok(output.some((l) => /warn .*ignoring etcd settings quorate does not have: max-snapshots$/.test(l)), output.join('\n'));
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
});
