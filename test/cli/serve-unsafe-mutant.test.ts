/**
 * `serve --unsafe-mutant` switches on a test-only bug that breaks safety: it is taken from the
 * command line alone. An etcd config file that sets it is refused (it used to switch the mutant
 * on, as config files set every option by its name), etcd's variables never set it, and an
 * unknown name is bad input (exit 3) before anything is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBadInput, quorate } from './run-quorate.js';
import { parseServe } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/command.js';

test('serve --unsafe-mutant is taken from the command line only: a config file that sets it is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-mutant-config-'));
  try {
    const file = join(dir, 'etcd.yml');
    writeFileSync(file, 'name: m1\nunsafe-mutant: stale-read\n');
    assert.throws(() => parseServe(['--config-file', file], {}), (err: unknown) => err instanceof UsageError && /unsafe-mutant is taken from the command line only/.test(err.message));
    assert.throws(() => parseServe([], { ETCD_CONFIG_FILE: file }), UsageError);
    // Left empty or off, as etcd's sample files leave what they do not set: nothing asked.
    writeFileSync(file, 'name: m1\nunsafe-mutant:\n');
    const quiet = parseServe(['--config-file', file], {});
    assert.ok(quiet !== 'help' && quiet.options.unsafeMutant === undefined);
    // Nor from etcd's variables (it is not an etcd flag): named in a warning, not used.
    const env = parseServe([], { ETCD_UNSAFE_MUTANT: 'stale-read' });
    assert.ok(env !== 'help' && env.options.unsafeMutant === undefined);
    assert.match(env.warnings.join('\n'), /ETCD_UNSAFE_MUTANT/);
    // On the command line it is what the test harness asks for.
    const flag = parseServe(['--unsafe-mutant', 'stale-read'], {});
    assert.ok(flag !== 'help' && flag.options.unsafeMutant === 'stale-read');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const r = quorate(['serve', '--unsafe-mutant', 'no-such-bug', '--data-dir', join(tmpdir(), 'quorate-mutant-never-made')]);
  assertBadInput(r, /--unsafe-mutant: raft has no mutant 'no-such-bug'/, 'serve, unknown mutant');
});

test('serve --bft-insecure-keys-from-token (trials only, gives up member keys) is taken from the command line only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-insecure-config-'));
  try {
    const file = join(dir, 'etcd.yml');
    writeFileSync(file, 'name: m1\nbft-insecure-keys-from-token: true\n');
    assert.throws(() => parseServe(['--config-file', file], {}), (err: unknown) => err instanceof UsageError && /bft-insecure-keys-from-token is taken from the command line only/.test(err.message));
    // Quorate's own settings that give up nothing still ride in the file, as docs/cli.md says.
    writeFileSync(file, 'name: m1\nprotocol: multipaxos\n');
    const fromFile = parseServe(['--config-file', file], {});
    assert.ok(fromFile !== 'help' && fromFile.options.protocol === 'multipaxos');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
