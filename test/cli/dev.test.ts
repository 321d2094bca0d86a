/**
 * What `npm start` runs: the local 3-member cluster comes up, serves an etcd client, stops
 * cleanly on Ctrl-C (SIGINT) and resumes with its data on the next start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { DEV_MEMBERS } from '../../src/cli/commands/dev.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// Away from etcd's own ports (offset 0), in case an etcd runs on this machine, and below the
// ports the system hands out (32768 and up on Linux): `quorate dev` has a fixed layout, up to
// 32380 + offset, and tests beside this one take free ports from the system.
const OFFSET = 1 + (process.pid % 38) * 10;
/** A client call to the local cluster taking longer than this is stuck. */
const CALL_DEADLINE_MS = 15_000;

/** `quorate dev` on `dataDir`: `up` resolves at its ready banner; `output()` is what it printed so far. */
function startDev(dataDir: string, args: readonly string[] = []): { child: ChildProcess; up: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, [MAIN, 'dev', '--data-dir', dataDir, '--port-offset', String(OFFSET), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const up = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready banner within 30 s:\n${output}`)), 30_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('a 3-member cluster is up')) { clearTimeout(timer); resolve(); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  return { child, up, output: () => output };
}

async function withDevCluster<T>(dataDir: string, body: (client: Etcd3) => Promise<T>, args: readonly string[] = []): Promise<{ result: T; exitCode: number | null; output: string }> {
  const { child, up, output } = startDev(dataDir, args);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await up;
    // Every call has a deadline, so a stuck cluster fails the test instead of hanging it.
    const client = new Etcd3({ hosts: `http://127.0.0.1:${2379 + OFFSET}`, faultHandling: { host: () => noop, global: noop }, defaultCallOptions: () => ({ deadline: Date.now() + CALL_DEADLINE_MS }) });
    try {
      const result = await body(client);
      return { result, exitCode: await stop(), output: output() };
    } finally {
      client.close();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }

  async function stop(): Promise<number | null> {
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

test('quorate dev (npm start): up, serving, a clean stop on SIGINT, and a resume with the data intact', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-dev-'));
  try {
    const first = await withDevCluster(join(dir, 'data'), async (etcd) => {
      await etcd.put('hello').value('world');
      return etcd.get('hello').string();
    });
    assert.equal(first.result, 'world');
    assert.equal(first.exitCode, 0, `a clean stop:\n${first.output}`);
    assert.match(first.output, /\[m1\] .*info/, 'output is prefixed by member');
    const second = await withDevCluster(join(dir, 'data'), (etcd) => etcd.get('hello').string());
    assert.equal(second.result, 'world', 'the data survived the restart');
    assert.match(second.output, /restarting a member from its data directory/);
    assert.equal(second.exitCode, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('quorate dev --protocol pbft: each member gets its own keys on the first start, the same keys on a restart', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-dev-pbft-'));
  const data = join(dir, 'data');
  const keysDir = join(data, 'keys');
  try {
    const first = await withDevCluster(data, async (etcd) => {
      await etcd.put('hello').value('byzantine world');
      return etcd.get('hello').string();
    }, ['--protocol', 'pbft']);
    assert.equal(first.result, 'byzantine world');
    assert.equal(first.exitCode, 0, `a clean stop:\n${first.output}`);
    assert.match(first.output, /generated each member's keys/);
    assert.deepEqual(readdirSync(keysDir).sort(), ['m1.key', 'm2.key', 'm3.key', 'public-keys.json']);
    const publicKeys = readFileSync(join(keysDir, 'public-keys.json'), 'utf8');
    const second = await withDevCluster(data, async (etcd) => {
      await etcd.put('again').value('same keys');
      return etcd.get('again').string();
    }, ['--protocol', 'pbft']);
    assert.equal(second.result, 'same keys');
    assert.equal(second.exitCode, 0, `a clean stop:\n${second.output}`);
    assert.doesNotMatch(second.output, /generated each member's keys/);
    assert.equal(readFileSync(join(keysDir, 'public-keys.json'), 'utf8'), publicKeys, 'the keys were reused');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Whether something accepts connections on the port (the member is still serving). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

test('quorate dev killed outright (SIGKILL, or a SIGTERM to npm that never reached it): its members stop too', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-dev-'));
  const ports = DEV_MEMBERS.map((m) => m.client + OFFSET);
  const { child, up } = startDev(join(dir, 'data'));
  try {
    await up;
    for (const port of ports) assert.ok(await listening(port), `a member serves on ${port}`);
    child.kill('SIGKILL'); // no handler runs: only the members' own watch can stop them
    const deadline = Date.now() + 20_000;
    let serving = ports;
    while (serving.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const still: number[] = [];
      for (const port of serving) if (await listening(port)) still.push(port);
      serving = still;
    }
    assert.deepEqual(serving, [], 'every member stopped within 20 s of its launcher');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
