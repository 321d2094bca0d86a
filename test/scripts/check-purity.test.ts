/**
 * The purity lint (scripts/check-purity.mjs) run on fixture trees: each way a protocol core, the
 * driver or the core library could reach the outside world is reported with its file and line;
 * the same words in comments and a pure file are not; and this repository is clean.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../scripts/check-purity.mjs', import.meta.url));

function lint(files: Record<string, string> | null): { status: number | null; out: string } {
  const root = files === null ? null : mkdtempSync(join(tmpdir(), 'quorate-purity-'));
  try {
    if (root !== null && files !== null) {
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
    }
    const r = spawnSync(process.execPath, root === null ? [SCRIPT] : [SCRIPT, root], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    if (root !== null) rmSync(root, { recursive: true, force: true });
  }
}

/** One violation per line, each with what the lint calls it. */
const VIOLATIONS: readonly [string, RegExp][] = [
  [`import { randomBytes } from 'node:crypto';`, /I\/O or system module import/],
  [`import * as os from 'os';`, /I\/O or system module import/],
  [`import { readFileSync } from 'node:fs';`, /I\/O or system module import/],
  [`import { connect } from 'node:net';`, /I\/O or system module import/],
  [`import { setTimeout as sleep } from 'node:timers/promises';`, /I\/O or system module import/],
  [`import 'node:fs';`, /I\/O or system module import/],
  [`export const lazy = () => import('node:crypto');`, /dynamic I\/O import/],
  [`export const level = process.env.LEVEL;`, /process\.env/],
  [`export const level2 = process['env']['LEVEL'];`, /process\.env/],
  [`export const now = Date.now();`, /Date \(wall clock\)/],
  [`export const r = Math.random();`, /Math\.random/],
  [`export const t = performance.now();`, /performance\.now/],
  [`setTimeout(() => {}, 1);`, /timers/],
];

for (const dir of ['src/protocols/raft', 'src/core', 'src/driver']) {
  test(`every use of I/O, time, randomness or the environment in ${dir} is reported with its line`, () => {
    const { status, out } = lint({ [`${dir}/bad.ts`]: VIOLATIONS.map(([line]) => line).join('\n') + '\n' });
    assert.equal(status, 1, out);
    VIOLATIONS.forEach(([line, what], i) => {
      const reported = out.split('\n').find((l) => l.startsWith(`${dir}/bad.ts:${i + 1}: `));
      assert.ok(reported !== undefined, `line ${i + 1} (${line}) is reported:\n${out}`);
      assert.match(reported, what);
    });
    assert.match(out, new RegExp(`purity check failed: ${VIOLATIONS.length} use\\(s\\)`));
  });
}

test('the same words in comments, and files outside the pure folders, are not reported', () => {
  const { status, out } = lint({
    'src/core/fine.ts': [
      `// Never Date.now() or Math.random(): see process.env and import 'node:fs' elsewhere.`,
      `/* setTimeout(() => {}, 1); import { x } from 'node:crypto'; */`,
      `export const ok = 1;`,
    ].join('\n'),
    'src/node/io.ts': `import { readFileSync } from 'node:fs';\nexport const env = process.env;\n`,
  });
  assert.equal(status, 0, out);
  assert.match(out, /purity check: 1 files in src\/protocols, src\/driver, src\/core clean/);
});

test('this repository passes the purity lint', () => {
  const { status, out } = lint(null);
  assert.equal(status, 0, out);
});
