/**
 * `quorate keys generate`: writes each member's private key file and the public keys file, says
 * which file goes to which member, never overwrites, and refuses bad flags with exit code 3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBftKeyMaterial } from '../../src/node/bft-keys.js';
import { parseServeFlags } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/command.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** The command only writes a few small files: a run this long is stuck. */
const RUN_TIMEOUT_MS = 30_000;

function quorate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: RUN_TIMEOUT_MS }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

test('quorate keys generate: files for every member, which goes where, no overwrite, bad flags refused', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-keys-cli-'));
  try {
    const out = join(dir, 'keys');
    const names = ['m1', 'm2', 'm3', 'm4'];
    const ok = await quorate('keys', 'generate', '--names', names.join(','), '--out', out);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['m1.key', 'm2.key', 'm3.key', 'm4.key', 'public-keys.json']);
    assert.match(ok.stdout, /public-keys\.json: every member's public keys; give it to every member/);
    for (const n of names) {
      assert.match(ok.stdout, new RegExp(`${n}\\.key: private keys of ${n}; give it to ${n} only`));
      assert.match(ok.stdout, new RegExp(`--name ${n} --bft-private-key ${n}\\.key --bft-public-keys public-keys\\.json`));
      assert.equal(statSync(join(out, `${n}.key`)).mode & 0o777, 0o600);
      const m = await loadBftKeyMaterial({ privateKeyFile: join(out, `${n}.key`), publicKeysFile: join(out, 'public-keys.json') }, n, names);
      assert.equal(m.self.name, n);
    }

    const again = await quorate('keys', 'generate', '--names', 'm1', '--out', out);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /already exists; keys are never overwritten/);

    const badName = await quorate('keys', 'generate', '--names', 'm1,m/2', '--out', join(dir, 'other'));
    assert.equal(badName.code, 3);
    assert.match(badName.stderr, /member name 'm\/2' cannot have keys/);

    const noOut = await quorate('keys', 'generate', '--names', 'm1');
    assert.equal(noOut.code, 3);
    assert.match(noOut.stderr, /--names and --out are required/);

    const help = await quorate('keys', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: quorate keys generate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('quorate serve: the pbft key flags are checked together, and pbft without keys exits 3 naming them', { timeout: 60_000 }, async () => {
  const flags = (...extra: string[]) => parseServeFlags(['--protocol', 'pbft', ...extra]);
  const parsed = flags('--bft-private-key', 'm1.key', '--bft-public-keys', 'public-keys.json');
  assert.ok(parsed !== 'help');
  assert.deepEqual(parsed.memberKeys, { privateKeyFile: 'm1.key', publicKeysFile: 'public-keys.json' });
  const insecure = flags('--bft-insecure-keys-from-token');
  assert.ok(insecure !== 'help');
  assert.equal(insecure.memberKeys, 'insecure-from-token');
  assert.throws(() => flags('--bft-private-key', 'm1.key'), (e: unknown) => e instanceof UsageError && /go together/.test(e.message));
  assert.throws(() => flags('--bft-insecure-keys-from-token', '--bft-private-key', 'm1.key', '--bft-public-keys', 'p.json'), (e: unknown) => e instanceof UsageError && /one or the other/.test(e.message));
  assert.throws(() => parseServeFlags(['--bft-insecure-keys-from-token']), (e: unknown) => e instanceof UsageError && /only to protocols whose members need keys; raft does not/.test(e.message));

  const dir = mkdtempSync(join(tmpdir(), 'quorate-serve-nokeys-'));
  try {
    const r = await quorate('serve', '--protocol', 'pbft', '--name', 'm1', '--data-dir', join(dir, 'm1'),
      '--listen-client-urls', 'http://127.0.0.1:0', '--listen-peer-urls', 'http://127.0.0.1:1');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /--bft-private-key FILE and --bft-public-keys FILE.*quorate keys generate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
