/**
 * TLS: clients over TLS with a CA, and mutual TLS between members (a peer without a
 * certificate from the cluster's CA is refused). Certificates are made fresh with openssl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { ProcessCluster } from './process-cluster.js';

function makeCertificates(dir: string): { ca: string; cert: string; key: string; otherCert: string; otherKey: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=127.0.0.1');
  run('x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.crt', '-days', '2', '-extfile', 'san.cnf');
  // A certificate from a different CA: must not get into the cluster.
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'node.crt'), key: join(dir, 'node.key'), otherCert: join(dir, 'other.crt'), otherKey: join(dir, 'other.key') };
}

const HAVE_ETCDCTL = spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

test('TLS for clients and mutual TLS between members', { timeout: 90_000, skip: hasOpenssl() ? false : 'openssl is not installed (.ci/run installs it)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-tls-'));
  const certs = makeCertificates(dir);
  const cluster = await ProcessCluster.start(3, [
    '--cert-file', certs.cert, '--key-file', certs.key, '--trusted-ca-file', certs.ca,
    '--peer-cert-file', certs.cert, '--peer-key-file', certs.key, '--peer-trusted-ca-file', certs.ca,
  ], { tls: { ca: certs.ca }, peerScheme: 'https' });
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
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({
          host: '127.0.0.1', port: cluster.peerPort(cluster.names[0]!),
          cert: readFileSync(certs.otherCert), key: readFileSync(certs.otherKey), ca: readFileSync(certs.ca),
        });
        socket.on('secureConnect', () => socket.write('x'));
        socket.on('error', (err) => resolve(`error: ${err.message}`));
        socket.on('close', () => resolve('closed'));
        setTimeout(() => { socket.destroy(); resolve('still open'); }, 10_000);
      });
      assert.notEqual(outcome, 'still open');
      assert.ok(cluster.isRunning(cluster.names[0]!));
      assert.equal(await cluster.client(cluster.names[0]!).get('secure').string(), 'yes', 'still serving');
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
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
