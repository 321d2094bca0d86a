/**
 * What `npm start` runs: the local 3-member cluster comes up, serves an etcd client, stops
 * cleanly on Ctrl-C (SIGINT) and resumes with its data on the next start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// Away from etcd's own ports, in case an etcd runs on this machine.
const OFFSET = 10_000 + (process.pid % 500) * 7;

async function withDevCluster<T>(dataDir: string, body: (client: Etcd3) => Promise<T>): Promise<{ result: T; exitCode: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN, 'dev', '--data-dir', dataDir, '--port-offset', String(OFFSET)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready banner within 30 s:\n${output}`)), 30_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('a 3-member cluster is up')) { clearTimeout(timer); resolve(); }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    const client = new Etcd3({ hosts: `http://127.0.0.1:${2379 + OFFSET}`, faultHandling: { host: () => noop, global: noop } });
    try {
      const result = await body(client);
      return { result, exitCode: await stop(), output };
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
