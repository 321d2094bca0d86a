/** Test ports are claimed across processes: two processes never get the same one, and a killed one's claims are taken over. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PORTS_MODULE = fileURLToPath(new URL('./ports.js', import.meta.url));
const CLAIMS_DIR = join(tmpdir(), 'quorate-test-ports');

/** A child process that draws `count` ports, prints them, then waits for its stdin to close (or is killed). */
function drawer(count: number): { ports: Promise<number[]>; exit: () => Promise<void>; kill: () => Promise<void> } {
  const code = `const { freePort } = await import(${JSON.stringify(PORTS_MODULE)}); const ps = []; for (let i = 0; i < ${count}; i++) ps.push(await freePort()); console.log(JSON.stringify(ps)); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const ports = new Promise<number[]>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out) as number[]);
    });
    child.once('exit', () => reject(new Error('drawer exited before printing its ports')));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { ports, exit: async () => { child.stdin.end(); await exited; }, kill: async () => { child.kill('SIGKILL'); await exited; } };
}

describe('test ports', () => {
  it('two processes drawing at once never get the same port; their claims go when they exit', async () => {
    const a = drawer(300);
    const b = drawer(300);
    const [pa, pb] = await Promise.all([a.ports, b.ports]);
    const shared = pa.filter((p) => pb.includes(p));
    assert.deepEqual(shared, []);
    assert.ok(pa.every((p) => existsSync(join(CLAIMS_DIR, String(p)))), 'each port drawn is claimed while its process lives');
    await Promise.all([a.exit(), b.exit()]);
    assert.ok([...pa, ...pb].every((p) => !existsSync(join(CLAIMS_DIR, String(p)))), 'an exiting process removes its claims');
  });

  it('a live process\'s claims hold; a killed one\'s are taken over', async () => {
    const { claimPort } = await import('./ports.js');
    const a = drawer(5);
    const pa = await a.ports;
    for (const p of pa) assert.equal(claimPort(p), false, `port ${p} is held by a live process`);
    await a.kill();
    assert.ok(pa.every((p) => existsSync(join(CLAIMS_DIR, String(p)))), 'a killed process leaves its claims');
    for (const p of pa) assert.equal(claimPort(p), true, `port ${p}: its claimer is gone, so this process takes it`);
  });
});
