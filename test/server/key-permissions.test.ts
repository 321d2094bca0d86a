/**
 * A member refuses to start on a private key file (TLS or BFT) that group or others may read or
 * change, before it writes anything, unless started with --allow-insecure-key-permissions (then it
 * warns). As ssh refuses an unprotected identity file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeFlags } from '../../src/cli/commands/serve.js';
import { QuorateError } from '../../src/core/errors.js';
import { BftKeyError } from '../../src/node/bft-keys.js';
import { startMember, type MemberOptions } from '../../src/server/index.js';

function options(dataDir: string, extra: Partial<MemberOptions>): MemberOptions {
  return {
    name: 'm1', dataDir, listenClientUrls: ['http://127.0.0.1:1'], advertiseClientUrls: ['http://127.0.0.1:1'], listenPeerUrls: ['http://127.0.0.1:2'],
    initialAdvertisePeerUrls: ['http://127.0.0.1:2'], initialCluster: 'm1=http://127.0.0.1:2', initialClusterState: 'new',
    initialClusterToken: 'key-test', clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50, electionTimeoutMs: 500,
    maxRequestBytes: 1 << 20, maxTxnOps: 128, logger: () => {}, ...extra,
  };
}

test('a TLS or BFT private key file readable by others: the member refuses to start, naming the file, its mode and the flag, before anything is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-key-mode-'));
  try {
    const key = join(dir, 'node.key');
    writeFileSync(key, 'not read: refused on its mode first\n', { mode: 0o644 });
    const dataDir = join(dir, 'm1');
    const cases: [string, Partial<MemberOptions>, (e: unknown) => boolean][] = [
      ['--key-file', { clientTls: { certFile: join(dir, 'node.crt'), keyFile: key, trustedCaFile: null, clientCertAuth: false } }, (e) => e instanceof QuorateError && e.code === 'BAD_KEYS'],
      ['--peer-key-file', { peerTls: { certFile: join(dir, 'node.crt'), keyFile: key, trustedCaFile: join(dir, 'ca.crt') } }, (e) => e instanceof QuorateError && e.code === 'BAD_KEYS'],
      ['--bft-private-key', { protocol: 'pbft', memberKeys: { privateKeyFile: key, publicKeysFile: join(dir, 'public-keys.json') } }, (e) => e instanceof BftKeyError && e.problem === 'insecure-permissions'],
    ];
    for (const [flag, extra, typed] of cases) {
      await assert.rejects(startMember(options(dataDir, extra)), (err: unknown) => {
        assert.ok(typed(err), `${flag}: a typed error, got ${String(err)}`);
        assert.match((err as Error).message, new RegExp(`node\\.key \\(${flag}\\) has permissions 0644: .*chmod 600 .*--allow-insecure-key-permissions`));
        return true;
      });
      assert.equal(existsSync(dataDir), false, `${flag}: nothing written`);
    }
    // Allowed: the check warns and lets the member go on (it then fails on the missing certificate).
    const warnings: string[] = [];
    await assert.rejects(startMember(options(dataDir, { ...cases[0]![1], allowInsecureKeyPermissions: true, logger: (level, m) => level === 'warn' && warnings.push(m) })),
      (err: unknown) => !/permissions/.test((err as Error).message));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /node\.key \(--key-file\) has permissions 0644.*accepted/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve --allow-insecure-key-permissions: off unless given', () => {
  const off = parseServeFlags([]);
  const on = parseServeFlags(['--allow-insecure-key-permissions']);
  assert.ok(off !== 'help' && on !== 'help');
  assert.equal(off.allowInsecureKeyPermissions, false);
  assert.equal(on.allowInsecureKeyPermissions, true);
});
