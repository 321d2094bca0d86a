#!/usr/bin/env node
// Fails the build if a protocol core, the one driver or the core library reaches for the outside
// world. Protocol cores get time only as ticks and randomness only through the injected Random;
// the driver gets time, storage and the network only through its ports. So the simulator's seed
// reproduces a run exactly and the shipped code is the simulated code.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

// The repository this script is in, or another tree laid out like it (the lint's own test).
const ROOT = process.argv[2] === undefined ? new URL('..', import.meta.url).pathname : resolve(process.argv[2]);
const PURE_DIRS = ['src/protocols', 'src/driver', 'src/core'];
// Modules that reach the outside world (files, network, processes, clocks, entropy, the host).
const IO_MODULES = '(node:)?(fs|fs\\/promises|net|dgram|http|https|http2|child_process|worker_threads|timers|timers\\/promises|crypto|os|dns|tls|zlib)';
const FORBIDDEN = [
  [/\bset(Timeout|Interval|Immediate)\s*\(/, 'timers'],
  [/\bclear(Timeout|Interval|Immediate)\s*\(/, 'timers'],
  [/\bDate\b/, 'Date (wall clock)'],
  [/\bMath\.random\b/, 'Math.random (use the injected Random)'],
  [/\bperformance\.now\b/, 'performance.now (wall clock)'],
  [/\bprocess\.(hrtime|nextTick)\b/, 'process clock / scheduling'],
  [/\bqueueMicrotask\b/, 'scheduling'],
  [new RegExp(`(from|import)\\s+['"]${IO_MODULES}['"]`), 'I/O or system module import'],
  [/\bprocess\s*(\.\s*env\b|\[\s*['"`]env['"`]\s*\])/, 'process.env (configuration comes in as options)'],
  [/\bcrypto\.(randomUUID|randomBytes|getRandomValues)\b/, 'crypto randomness (use the injected Random)'],
  [new RegExp(`\\bimport\\s*\\(\\s*['"]${IO_MODULES}['"]`), 'dynamic I/O import'],
  [/\brequire\s*\(/, 'require()'],
];

function stripComments(src) {
  // Good enough for our own code: removes block and line comments, keeps line numbers.
  return src
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

let failures = 0;
let files = 0;
for (const d of PURE_DIRS) {
  let root;
  try { root = join(ROOT, d); statSync(root); } catch { continue; }
  for (const file of walk(root)) {
    files++;
    const lines = stripComments(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const [re, what] of FORBIDDEN) {
        if (re.test(line)) {
          failures++;
          console.error(`${relative(ROOT, file)}:${i + 1}: protocol cores must be pure: ${what}\n    ${line.trim()}`);
        }
      }
    });
  }
}
if (failures > 0) {
  console.error(`purity check failed: ${failures} use(s) of time, randomness or I/O in ${PURE_DIRS.join(', ')}`);
  process.exit(1);
}
console.log(`purity check: ${files} files in ${PURE_DIRS.join(', ')} clean`);
