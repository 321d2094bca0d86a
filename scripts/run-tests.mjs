/**
 * `npm test`'s runner. Every test file under dist/test/ runs with --test-force-exit (a server test
 * that leaves a socket open must not hang the run), except the long synchronous simulator suites
 * listed below: under --test-force-exit, Node 20's runner ends the file after some of their
 * subtests and reports only those as passed, so they run in a second pass without it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = 'dist/test';
const WITHOUT_FORCE_EXIT = new Set([join(ROOT, 'sim', 'mutants.test.js')]);
const COMMON = ['--test', '--test-concurrency=2', '--test-timeout=600000'];

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.js') ? [path] : [];
  });
}

const all = testFiles(ROOT).sort();
const first = all.filter((f) => !WITHOUT_FORCE_EXIT.has(f));
const second = all.filter((f) => WITHOUT_FORCE_EXIT.has(f));
for (const [args, files] of [[[...COMMON, '--test-force-exit'], first], [COMMON, second]]) {
  if (files.length === 0) continue;
  const r = spawnSync(process.execPath, [...args, ...files], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
