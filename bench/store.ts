/**
 * The etcd state machine at scale, in one process: writes of many distinct keys, a range with a
 * small limit over all of them, a snapshot whole and in slices (the longest slice is what holds
 * the event loop), a restore whole and in slices, and the memory the store holds against what it counts (the quota).
 *   npm run build && node --expose-gc dist/bench/store.js [keys] [value bytes]
 * Figures only; never part of `npm test`.
 */
import { KvStateMachine, encodeKvCommand } from '../src/statemachine/mvcc/index.js';
import { index } from '../src/core/ids.js';
import { DEFAULT_DRIVER_LIMITS } from '../src/driver/limits.js';

const keys = Number(process.argv[2] ?? 500_000);
const valueBytes = Number(process.argv[3] ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;

function held(): number | null {
  if (gc === undefined) return null;
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function ms(t0: number): string {
  return `${(performance.now() - t0).toFixed(0)} ms`;
}

const MiB = 1024 * 1024;
console.log(`node ${process.version}; ${keys.toLocaleString('en-US')} keys, ${valueBytes}-byte values${gc === undefined ? ' (run with --expose-gc for memory figures)' : ''}`);
const before = held();
const kv = new KvStateMachine();
const value = Buffer.alloc(valueBytes, 7);
let t0 = performance.now();
for (let i = 0; i < keys; i++) {
  const key = Buffer.from(`key-${String((i * 7919) % keys).padStart(9, '0')}`); // not in key order
  const out = kv.apply(encodeKvCommand({ client: 'bench', seq: i + 1, lowestPending: i + 1, request: { op: 'put', key, value, lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false } }), index(i + 1));
  if (!out.ok) throw new Error(`put ${i}: ${out.error}`);
  if (i > 0 && i % 100_000 === 0) console.log(`  .. ${i.toLocaleString('en-US')} puts`);
}
const putSeconds = (performance.now() - t0) / 1000;
console.log(`puts of new keys          ${Math.round(keys / putSeconds).toLocaleString('en-US')}/s (${putSeconds.toFixed(1)} s)`);

t0 = performance.now();
const range = kv.store.execute({
  op: 'range', key: Buffer.from([0]), rangeEnd: Buffer.from([0]), limit: 10, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY',
  keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0,
});
console.log(`range of all, limit 10    ${ms(t0)} (count ${'count' in range ? range.count : '?'})`);

const after = held();
if (before !== null && after !== null) {
  const measured = after - before;
  const counted = kv.store.approximateBytes();
  console.log(`memory held               ${(measured / MiB).toFixed(1)} MiB; counted (quota, db size) ${(counted / MiB).toFixed(1)} MiB; ratio ${(counted / measured).toFixed(2)}`);
}

t0 = performance.now();
const whole = kv.snapshot();
console.log(`snapshot, whole           ${(whole.byteLength / MiB).toFixed(1)} MiB in ${ms(t0)}`);

const slice = DEFAULT_DRIVER_LIMITS.snapshotSliceBytes;
const encoding = kv.beginSnapshot();
let longest = 0;
let slices = 0;
t0 = performance.now();
for (let bytes: Uint8Array | null = null; bytes === null; slices++) {
  const s0 = performance.now();
  bytes = encoding.step(slice);
  longest = Math.max(longest, performance.now() - s0);
}
console.log(`snapshot, in slices       ${slices} slices of ${slice / MiB} MiB in ${ms(t0)}; longest slice ${longest.toFixed(0)} ms (what holds the event loop)`);

t0 = performance.now();
new KvStateMachine().restore(whole);
console.log(`restore, whole            ${ms(t0)}`);

// As the driver installs a received snapshot: a slice of about `slice` bytes per turn, then the swap.
const restoring = new KvStateMachine().beginRestore(whole);
const restoreSliceMs: number[] = [];
t0 = performance.now();
for (let done = false; !done;) {
  const s0 = performance.now();
  done = restoring.step(slice);
  restoreSliceMs.push(performance.now() - s0);
}
const restoreSlices = restoreSliceMs.length;
const longestRestore = Math.max(...restoreSliceMs);
const medianRestore = restoreSliceMs.sort((a, b) => a - b)[restoreSlices >> 1]!;
const i0 = performance.now();
restoring.install();
const swapMs = performance.now() - i0;
console.log(`restore, in slices        ${restoreSlices} slices of ${slice / MiB} MiB in ${ms(t0)}; longest slice ${longestRestore.toFixed(0)} ms, median ${medianRestore.toFixed(1)} ms; install (the swap) ${swapMs.toFixed(1)} ms`);
