/**
 * TLS: clients over TLS with a CA, and mutual TLS between members (a peer without a certificate
 * from the cluster's CA is refused, and so is one whose certificate names another member than its
 * handshake does). Certificates are made fresh with openssl: one per member, its name as CN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { pack } from '../../src/core/codec.js';
import { encodeFrame } from '../../src/transport/index.js';
import { hasOpenssl, memberCertificates } from '../tls-certificates.js';
import { freePort, ProcessCluster } from './process-cluster.js';

const MEMBERS = ['m1', 'm2', 'm3'];

function makeCertificates(): {
  ca: string; cert: string; key: string; otherCert: string; otherKey: string; peer: (name: string) => { cert: string; key: string };
  /** A peer certificate of the same CA with common name `cn` (a member added later: its 16-hex-digit id). */
  issue: (cn: string) => { cert: string; key: string }; remove: () => void;
} {
  // The members' peer certificates (CN = the member's name) and the client port's (CN=localhost).
  const certs = memberCertificates([...MEMBERS, 'localhost'])!;
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: certs.dir, stdio: 'pipe' });
  // A certificate from a different CA: must not get into the cluster.
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '2', '-subj', '/CN=m1', '-addext', 'subjectAltName=IP:127.0.0.1');
  const server = certs.files('localhost');
  return {
    ca: certs.ca, cert: server.cert, key: server.key, otherCert: join(certs.dir, 'other.crt'), otherKey: join(certs.dir, 'other.key'),
    peer: (name) => certs.files(name), remove: () => certs.remove(),
    issue: (cn) => {
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
      run('req', ...ec, '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/CN=${cn}`);
      run('x509', '-req', '-in', `${cn}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${cn}.crt`, '-days', '2', '-extfile', 'san.cnf');
      return { cert: join(certs.dir, `${cn}.crt`), key: join(certs.dir, `${cn}.key`) };
    },
  };
}

const HAVE_ETCDCTL = spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;

/** What a peer connection to `port` presenting `cert`/`key` and naming `from` comes to: closed, or still open after 10 s. */
function peerConnection(port: number, cert: string, key: string, ca: string, from: string, clusterId = 'any'): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca) });
    socket.on('secureConnect', () => socket.write(encodeFrame(pack({ magic: 'QRT1', clusterId, from, to: 'm1' }))));
    socket.on('error', (err) => resolve(`error: ${err.message}`));
    socket.on('close', () => resolve('closed'));
    setTimeout(() => { socket.destroy(); resolve('still open'); }, 10_000);
  });
}

async function waitFor(what: string, f: () => boolean, boundMs = 10_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('TLS for clients and mutual TLS between members', { timeout: 90_000, skip: hasOpenssl() ? false : 'openssl is not installed (.ci/run installs it)' }, async (t) => {
  const certs = makeCertificates();
  // m1's metrics over plain HTTP too (the client port speaks only HTTP/2 over TLS).
  const metricsPort = await freePort();
  const cluster = await ProcessCluster.start(MEMBERS.length, [
    '--cert-file', certs.cert, '--key-file', certs.key, '--trusted-ca-file', certs.ca, '--peer-trusted-ca-file', certs.ca,
  ], { tls: { ca: certs.ca }, peerScheme: 'https', memberFlags: (name) => !MEMBERS.includes(name) ? [] : [
    '--peer-cert-file', certs.peer(name).cert, '--peer-key-file', certs.peer(name).key, ...(name === 'm1' ? ['--listen-metrics-urls', `http://127.0.0.1:${metricsPort}`] : []),
  ] });
  assert.deepEqual(cluster.names, MEMBERS);
  try {
    await t.test('a client that trusts the CA writes and reads over TLS; members replicate over mutual TLS', async () => {
      const name = cluster.names[0]!;
      const etcd = new Etcd3({
        hosts: `https://${cluster.endpoint(name)}`,
        credentials: { rootCertificate: readFileSync(certs.ca) },
        faultHandling: { host: () => noop, global: noop },
      });
      try {
        await etcd.put('secure').value('yes');
        assert.equal(await etcd.get('secure').string(), 'yes');
      } finally {
        etcd.close();
      }
      const other = cluster.client(cluster.names[1]!);
      assert.equal(await other.get('secure').string(), 'yes', 'replicated to another member');
    });

    await t.test('a peer presenting a certificate from another CA is refused during the TLS handshake', async () => {
      const outcome = await peerConnection(cluster.peerPort(cluster.names[0]!), certs.otherCert, certs.otherKey, certs.ca, 'm2');
      assert.notEqual(outcome, 'still open');
      assert.ok(cluster.isRunning(cluster.names[0]!));
      assert.equal(await cluster.client(cluster.names[0]!).get('secure').string(), 'yes', 'still serving');
    });

    await t.test('a peer presenting the cluster CA\'s certificate of one member (m3) and naming another (m2) is refused, logged and counted', async () => {
      const peer = certs.peer('m3');
      // The real cluster id (from m1's identity record), so that only the certificate is wrong.
      const { clusterId } = JSON.parse(readFileSync(join(cluster.dir, 'm1', 'member.json'), 'utf8')) as { clusterId: string };
      assert.equal(await peerConnection(cluster.peerPort('m1'), peer.cert, peer.key, certs.ca, 'm2', clusterId), 'closed');
      await waitFor('the refusal logged', () => cluster.output.some((l) => l.startsWith('[m1]') && /naming member m2: its certificate names member "m3" \(CN\), not m2/.test(l)));
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      assert.match(metrics, /^quorate_peer_identity_failures_total [1-9]/m);
      assert.equal(await cluster.client('m1').get('secure').string(), 'yes', 'still serving');
    });

    await t.test('etcdctl 3.4 with https:// endpoints: endpoint status, hashkv, defrag, and --cluster', { skip: HAVE_ETCDCTL ? false : 'etcdctl is not installed (Debian package etcd-client)' }, () => {
      const url = (name: string) => `https://${cluster.endpoint(name)}`;
      const ctl = (...args: string[]): string[] => {
        const r = spawnSync('etcdctl', [`--cacert=${certs.ca}`, `--endpoints=${url(cluster.names[0]!)}`, '--dial-timeout=2s', '--command-timeout=10s', ...args],
          { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000, encoding: 'utf8' });
        assert.equal(r.status, 0, `etcdctl ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
        return r.stdout.trim().split('\n');
      };
      assert.match(ctl('endpoint', 'status')[0]!, new RegExp(`^${url(cluster.names[0]!)}, [0-9a-f]+, `));
      assert.match(ctl('endpoint', 'hashkv')[0]!, new RegExp(`^${url(cluster.names[0]!)}, \\d+$`));
      assert.deepEqual(ctl('defrag'), [`Finished defragmenting etcd member[${url(cluster.names[0]!)}]`]);
      // --cluster dials the client URLs MemberList advertises, https:// here.
      assert.deepEqual(ctl('endpoint', 'status', '--cluster').map((l) => l.split(', ')[0]).sort(), cluster.names.map(url).sort());
    });

    await t.test('a member added later, its certificate\'s CN its 16-hex-digit member id, joins over mutual TLS: both directions of its links check that CN', async () => {
      await cluster.reserve('m4');
      // To the leader: with client TLS a follower answers "not leader" rather than forward (see
      // cluster-service.ts). An election between finding the leader and the call (a loaded
      // machine's missed heartbeats) is refused before anything is proposed: found and tried again.
      const addDeadline = Date.now() + 20_000;
      const add = async (): Promise<Awaited<ReturnType<Etcd3['cluster']['memberAdd']>>> => {
        try {
          return await cluster.client(await cluster.waitForLeader()).cluster.memberAdd({ peerURLs: [`https://127.0.0.1:${cluster.peerPort('m4')}`], isLearner: true });
        } catch (err) {
          if (!/not leader|no leader/.test(String(err)) || Date.now() > addDeadline) throw err;
          await new Promise((r) => setTimeout(r, 200));
          return add();
        }
      };
      const added = await add();
      const id = BigInt(added.member.ID).toString(16).padStart(16, '0');
      const own = certs.issue(id);
      cluster.launch('m4', ['--initial-cluster-state', 'existing', '--peer-cert-file', own.cert, '--peer-key-file', own.key]);
      // Publishing its name is a proposal m4 makes over its link to the leader, once the leader's link to it replicated the log.
      const deadline = Date.now() + 40_000;
      let published = false;
      while (!published && Date.now() < deadline) {
        published = (await cluster.client('m1').cluster.memberList({})).members.some((m) => m.name === 'm4');
        if (!published) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(published, `m4 joined and published its name:\n${cluster.output.slice(-30).join('\n')}`);
      assert.ok(!cluster.output.some((l) => new RegExp(`certificate names member .*not (m[1-4]|${id})`).test(l) && !/naming member m2: its certificate names member "m3"/.test(l)),
        cluster.output.filter((l) => /certificate names member/.test(l)).join('\n'));
    });
  } finally {
    await cluster.stop();
    certs.remove();
  }
});

test('PBFT members with their own keys over mutual TLS: every link proves its member key bound to its TLS connection, and writes replicate', { timeout: 120_000, skip: hasOpenssl() ? false : 'openssl is not installed (.ci/run installs it)' }, async () => {
  const names = ['m1', 'm2', 'm3', 'm4'];
  const certs = memberCertificates(names)!;
  const cluster = await ProcessCluster.start(names.length, ['--protocol', 'pbft', '--peer-trusted-ca-file', certs.ca], {
    memberKeys: true, leaderQuorum: 3, peerScheme: 'https',
    memberFlags: (name) => ['--peer-cert-file', certs.files(name).cert, '--peer-key-file', certs.files(name).key],
  });
  try {
    await cluster.client('m3').put('bound').value('to the channel');
    assert.equal(await cluster.client('m4').get('bound').string(), 'to the channel');
    assert.ok(!cluster.output.some((l) => /did not sign this connection's challenge|not bound to the TLS channel|before its challenge/.test(l)), cluster.output.join('\n'));
  } finally {
    await cluster.stop();
    certs.remove();
  }
});
