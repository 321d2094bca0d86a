/**
 * `npm run fuzz`: the fuzz suites with a longer budget. The same files `npm test` runs at budget 1
 * (a few seconds each), with the budget (`npm run fuzz -- --budget N`, or QUORATE_FUZZ_BUDGET;
 * default here 100) multiplying every iteration count. QUORATE_FUZZ_SEED moves the seeds; a failure
 * names the seed that reproduces it. Runs the files one after another (the gRPC fuzz starts a
 * server; the machine may be shared). Any other argument is refused: a flag silently ignored would
 * run a budget nobody asked for.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

/** The budget when QUORATE_FUZZ_BUDGET is not set: about 100 times `npm test`'s. */
const DEFAULT_LONG_BUDGET = '100';

const FILES = [
  'dist/test/storage/wal-fuzz.test.js',
  'dist/test/protocols/validate.test.js',
  'dist/test/node/peer-input.test.js',
  'dist/test/server/grpc-fuzz.test.js',
];

let budget;
try {
  budget = parseArgs({ options: { budget: { type: 'string' } }, strict: true }).values.budget;
} catch (err) {
  console.error(`fuzz: ${err.message} (usage: npm run fuzz -- [--budget N])`);
  process.exit(3);
}
budget ??= process.env.QUORATE_FUZZ_BUDGET ?? DEFAULT_LONG_BUDGET;
if (!/^[1-9]\d{0,5}$/.test(budget)) {
  console.error(`fuzz: --budget ${budget}: a whole number from 1 to 999999`);
  process.exit(3);
}
const env = { ...process.env, QUORATE_FUZZ_BUDGET: budget };
for (const file of FILES) {
  console.log(`fuzz: ${file} (budget ${env.QUORATE_FUZZ_BUDGET})`);
  const r = spawnSync(process.execPath, ['--test', '--test-force-exit', '--test-timeout=0', file], { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
