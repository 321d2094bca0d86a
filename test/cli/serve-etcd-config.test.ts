/**
 * `quorate serve` reads etcd's ETCD_* variables and etcd's --config-file YAML as etcd does: a flag
 * wins over its variable; a config file replaces the etcd flags and variables; every etcd setting
 * quorate does not have is named in a warning, never dropped silently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServe } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/command.js';

function parsed(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = parseServe(argv, env);
  assert.ok(r !== 'help');
  return r;
}

test('ETCD_* variables set what their flags set; a flag wins and the shadowed variable is named', () => {
  const { options, warnings } = parsed(['--name', 'from-flag'], {
    ETCD_NAME: 'from-env',
    ETCD_DATA_DIR: '/var/lib/etcd',
    ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:2379',
    ETCD_INITIAL_CLUSTER: 'a=http://10.0.0.1:2380,b=http://10.0.0.2:2380',
    ETCD_INITIAL_CLUSTER_STATE: 'existing',
    ETCD_HEARTBEAT_INTERVAL: '200',
    ETCD_ELECTION_TIMEOUT: '2000',
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_AUTO_COMPACTION_MODE: 'revision',
    ETCD_AUTO_COMPACTION_RETENTION: '1000',
    ETCDCTL_API: '3', // etcdctl's, not etcd's: not a warning
  });
  assert.equal(options.name, 'from-flag');
  assert.equal(options.dataDir, '/var/lib/etcd');
  assert.deepEqual(options.listenClientUrls, ['http://127.0.0.1:2379']);
  assert.equal(options.initialCluster, 'a=http://10.0.0.1:2380,b=http://10.0.0.2:2380');
  assert.equal(options.initialClusterState, 'existing');
  assert.equal(options.heartbeatIntervalMs, 200);
  assert.equal(options.electionTimeoutMs, 2000);
  assert.deepEqual(options.autoCompaction, { mode: 'revision', retention: 1000 });
  assert.deepEqual(warnings, ['ignoring environment variables shadowed by flags: ETCD_NAME (--name is given)']);
});

test('an ETCD_* variable for a flag quorate does not have is named in a warning', () => {
  const { warnings } = parsed([], { ETCD_MAX_WALS: '5', ETCD_ENABLE_PPROF: 'true' });
  assert.deepEqual(warnings, ['ignoring environment variables for etcd settings quorate does not have: ETCD_ENABLE_PPROF, ETCD_MAX_WALS']);
});

test('a bad value in a variable is bad input naming the variable', () => {
  assert.throws(() => parseServe([], { ETCD_INITIAL_CLUSTER_STATE: 'old' }), (e: unknown) => e instanceof UsageError && e.message === 'ETCD_INITIAL_CLUSTER_STATE must be one of new, existing, got \'old\'');
  assert.throws(() => parseServe([], { ETCD_CLIENT_CERT_AUTH: 'yes' }), (e: unknown) => e instanceof UsageError && /ETCD_CLIENT_CERT_AUTH is true or false, got 'yes'/.test(e.message));
});

test('etcd\'s sample config file: every key quorate has is read, every other key that sets something is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-config-'));
  try {
    const file = join(dir, 'etcd.conf.yml');
    // Laid out as etcd's documented sample (etcd.conf.yml.sample), values changed.
    writeFileSync(file, `# This is the configuration file for the etcd server.
name: 'infra1'
data-dir: /var/lib/etcd/infra1
wal-dir:
snapshot-count: 10000
heartbeat-interval: 100
election-timeout: 1000
quota-backend-bytes: 8589934592
listen-peer-urls: http://10.0.1.11:2380
listen-client-urls: http://10.0.1.11:2379,http://127.0.0.1:2379
max-snapshots: 5
max-wals: 5
cors:
initial-advertise-peer-urls: http://10.0.1.11:2380
advertise-client-urls: http://10.0.1.11:2379
discovery:
discovery-fallback: 'proxy'
discovery-proxy:
discovery-srv:
initial-cluster: "infra0=http://10.0.1.10:2380,infra1=http://10.0.1.11:2380,infra2=http://10.0.1.12:2380"
initial-cluster-token: 'etcd-cluster-1'
initial-cluster-state: 'new'
strict-reconfig-check: false
enable-pprof: true
proxy: 'off'
client-transport-security:
  cert-file: /etc/etcd/server.crt
  key-file: /etc/etcd/server.key
  client-cert-auth: true
  trusted-ca-file: /etc/etcd/ca.crt
  auto-tls: false
peer-transport-security:
  cert-file: /etc/etcd/peer.crt
  key-file: /etc/etcd/peer.key
  client-cert-auth: true
  trusted-ca-file: /etc/etcd/ca.crt
  auto-tls: false
self-signed-cert-validity: 1
log-level: warn
logger: zap
log-outputs: [stderr]
force-new-cluster: false
auto-compaction-mode: periodic
auto-compaction-retention: "1"
cipher-suites: [
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
]
tls-min-version: 'TLS1.2'
tls-max-version: 'TLS1.3'
`);
    const { options, warnings } = parsed(['--config-file', file, '--name', 'ignored', '--protocol', 'raft'], { ETCD_DATA_DIR: '/ignored' });
    assert.equal(options.name, 'infra1');
    assert.equal(options.dataDir, '/var/lib/etcd/infra1');
    assert.equal(options.snapshotCount, 10000);
    assert.equal(options.quotaBackendBytes, 8589934592);
    assert.deepEqual(options.listenClientUrls, ['http://10.0.1.11:2379', 'http://127.0.0.1:2379']);
    assert.deepEqual(options.advertiseClientUrls, ['http://10.0.1.11:2379']);
    assert.deepEqual(options.initialAdvertisePeerUrls, ['http://10.0.1.11:2380']);
    assert.equal(options.initialClusterToken, 'etcd-cluster-1');
    assert.deepEqual(options.clientTls, { certFile: '/etc/etcd/server.crt', keyFile: '/etc/etcd/server.key', trustedCaFile: '/etc/etcd/ca.crt', clientCertAuth: true });
    // Peer certificates name their member (CN) unless told otherwise: strict whenever peer TLS is on.
    assert.deepEqual(options.peerTls, { certFile: '/etc/etcd/peer.crt', keyFile: '/etc/etcd/peer.key', trustedCaFile: '/etc/etcd/ca.crt', memberBinding: 'common-name' });
    assert.deepEqual(options.autoCompaction, { mode: 'periodic', retention: 3_600_000 });
    assert.deepEqual(warnings, [
      `${file}: ignoring etcd settings quorate does not have: max-snapshots, max-wals, discovery-fallback, enable-pprof, proxy, self-signed-cert-validity, logger, log-outputs, cipher-suites, tls-min-version, tls-max-version`,
      `ignoring etcd flags given with a config file (as etcd does; set them in ${file}): --name`,
      'ignoring environment variables given with a config file (as etcd does): ETCD_DATA_DIR',
    ]);
    // ETCD_CONFIG_FILE names the file as --config-file does.
    assert.equal(parsed([], { ETCD_CONFIG_FILE: file }).options.name, 'infra1');

    writeFileSync(join(dir, 'bad.yml'), 'name: [unclosed\n');
    assert.throws(() => parseServe(['--config-file', join(dir, 'bad.yml')], {}), (e: unknown) => e instanceof UsageError && !e.message.includes('\n') && e.message.startsWith(`--config-file ${join(dir, 'bad.yml')}: `));
    assert.throws(() => parseServe(['--config-file', join(dir, 'none.yml')], {}), (e: unknown) => e instanceof UsageError && /no such file/.test(e.message));
    writeFileSync(join(dir, 'typo.yml'), 'heartbeat-interval: often\n');
    assert.throws(() => parseServe(['--config-file', join(dir, 'typo.yml')], {}), (e: unknown) => e instanceof UsageError && e.message === `heartbeat-interval in ${join(dir, 'typo.yml')} must be an integer from 1 to 10000, got 'often'`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve keeps its flags: the old spellings parse as before, and etcd\'s -flag and --bool=true forms work', () => {
  const { options } = parsed(['--name=m1', '-data-dir', '/tmp/x', '--client-cert-auth=true', '--cert-file', 'c', '--key-file', 'k', '--snapshot-count', '5']);
  assert.equal(options.name, 'm1');
  assert.equal(options.dataDir, '/tmp/x');
  assert.equal(options.clientTls?.clientCertAuth, true);
  assert.equal(options.snapshotCount, 5);
  assert.equal(parsed([]).options.dataDir, 'default.etcd');
});

test('--peer-cert-member-binding none is the explicit way to let peer certificates that carry no member name in; anything else is refused', () => {
  const tls = ['--peer-cert-file', 'p.crt', '--peer-key-file', 'p.key', '--peer-trusted-ca-file', 'ca.crt'];
  assert.equal(parsed(tls).options.peerTls?.memberBinding, 'common-name');
  assert.equal(parsed([...tls, '--peer-cert-member-binding', 'none']).options.peerTls?.memberBinding, 'none');
  assert.throws(() => parsed([...tls, '--peer-cert-member-binding', 'san']), (e: unknown) => e instanceof UsageError);
});

test('--peer-cert-member-binding without peer TLS is refused (it would read as a protection the member does not have); its default alone is not', () => {
  for (const binding of ['common-name', 'none']) {
    assert.throws(() => parsed(['--peer-cert-member-binding', binding]),
      (e: unknown) => e instanceof UsageError && /--peer-cert-member-binding applies only with peer TLS/.test(e.message));
  }
  assert.equal(parsed([]).options.peerTls, null);
});
