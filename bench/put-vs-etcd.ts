/**
 * The same put workload against a 3-member etcd and a 3-member quorate cluster, side by side in
 * one run: 256-byte values over 10,000 keys, a closed loop of 1, 8, 64 and 256 requests in
 * flight, throughput and p50/p99 latency per system, and the server processes' CPU. With
 * `--systems`, also quorate on Multi-Paxos (3 members) and on PBFT (4 members, f = 1, keys
 * generated per member): what tolerating a lying member costs, measured on the same machine.
 *
 * Both clusters are started with the same etcd-style flags on loopback, on fresh data
 * directories, and the client is the same gRPC client with etcd's wire definitions. Client and
 * servers share this machine's cores: compare the ratios within one run, not absolute figures
 * across machines. Run with `bash bench/put-vs-etcd.sh` (installs etcd if needed).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { etcdService } from '../src/server/proto.js';
import { generateKeyFiles } from '../src/node/bft-keys.js';
import { leaderIndex, startCluster, stopCluster, type LocalCluster, type LocalSystem } from './local-cluster.js';

const VALUE_BYTES = 256;
const KEYS = 10_000;
const WARMUP_MS = 1_000;
const CLIENT_CHANNELS = 4;
const CLK_TCK = 100; // /proc/PID/stat time unit on Linux


const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QUORATE = [process.execPath, MAIN, 'serve'];
const SYSTEMS: readonly LocalSystem[] = [
  { name: 'etcd', command: ['etcd'], basePort: 12379, members: 3 },
  { name: 'quorate', command: QUORATE, basePort: 13379, members: 3 },
  { name: 'quorate-multipaxos', command: [...QUORATE, '--protocol', 'multipaxos'], basePort: 14379, members: 3 },
  {
    name: 'quorate-pbft', command: [...QUORATE, '--protocol', 'pbft'], basePort: 15379, members: 4,
    prepare: async (dir, names) => { await generateKeyFiles(join(dir, 'keys'), names); },
    memberFlags: (dir, name) => ['--bft-private-key', join(dir, 'keys', `${name}.key`), '--bft-public-keys', join(dir, 'keys', 'public-keys.json')],
  },
];

interface Cluster extends LocalCluster {
  /** The leader's endpoint. */
  readonly leader: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A cluster and its leader (the bench's puts to the leader go there). */
async function startWithLeader(sys: LocalSystem): Promise<Cluster> {
  const cluster = await startCluster(sys, 'put');
  try {
    return { ...cluster, leader: cluster.endpoints[await leaderIndex(cluster)]! };
  } catch (err) {
    stopCluster(cluster, true);
    throw new Error(`${sys.name}: ${(err as Error).message}`);
  }
}

function cpuTicks(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks;
}

interface Result {
  system: string; concurrency: number; opsPerSec: number; p50: number; p99: number; errors: number; serverCpu: number; clientCpu: number;
}

async function runLevel(sys: LocalSystem, cluster: Cluster, concurrency: number, seconds: number, target: 'leader' | 'all'): Promise<Result> {
  const KV = etcdService('KV');
  const endpoints = target === 'leader' ? [cluster.leader] : cluster.endpoints;
  const clients = Array.from({ length: CLIENT_CHANNELS * endpoints.length }, (_, i) =>
    new KV(endpoints[i % endpoints.length]!, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  let seed = 42;
  const nextKey = (): Buffer => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return Buffer.from(`key-${String(seed % KEYS).padStart(5, '0')}`);
  };
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const worker = async (w: number): Promise<void> => {
    let n = w;
    while (!stop) {
      const client = clients[n++ % clients.length]!;
      const t0 = process.hrtime.bigint();
      const ok = await new Promise<boolean>((resolve) => client['Put']!({ key: nextKey(), value }, { deadline: Date.now() + 10_000 }, (err: Error | null) => resolve(err === null)));
      if (!measuring) continue;
      if (ok) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      else errors++;
    }
  };
  const pids = cluster.children.map((c) => c.pid!);
  const workers = Array.from({ length: concurrency }, (_, i) => worker(i));
  await sleep(WARMUP_MS);
  measuring = true;
  const cpu0 = cpuTicks(pids);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const serverCpu = ((cpuTicks(pids) - cpu0) / CLK_TCK / elapsed) * 100;
  const clientUsage = process.cpuUsage(client0);
  stop = true;
  await Promise.all(workers);
  for (const c of clients) c.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return {
    system: sys.name, concurrency, opsPerSec: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99), errors,
    serverCpu, clientCpu: ((clientUsage.user + clientUsage.system) / 1e6 / elapsed) * 100,
  };
}

/** One row per level and system; ratios are against the first system of the run (etcd by default). */
function table(results: readonly Result[], levels: readonly number[], systems: readonly string[]): string {
  const get = (s: string, c: number) => results.find((r) => r.system === s && r.concurrency === c);
  const base = systems[0]!;
  const rows = [['in flight', 'system', 'ops/s', `vs ${base}`, 'p50 ms', 'p99 ms', `p99 vs ${base}`, 'server CPU', 'errors']];
  const f = (n: number | undefined, d = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
  for (const c of levels) {
    const b = get(base, c);
    for (const s of systems) {
      const r = get(s, c);
      if (r === undefined) continue;
      rows.push([
        String(c), s, f(r.opsPerSec), b ? (r.opsPerSec / b.opsPerSec).toFixed(2) : '-', f(r.p50, 1), f(r.p99, 1),
        b ? (r.p99 / b.p99).toFixed(2) : '-', `${f(r.serverCpu)}%`, String(r.errors),
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padStart(widths[i]!)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '1,8,64,256' },
      systems: { type: 'string', default: 'etcd,quorate' },
      target: { type: 'string', default: 'leader' },
      json: { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const levels = values.concurrency.split(',').map(Number);
  const target = values.target === 'all' ? 'all' : 'leader';
  const names = values.systems.split(',');
  const unknown = names.filter((n) => !SYSTEMS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown system(s) ${unknown.join(', ')}; known: ${SYSTEMS.map((s) => s.name).join(', ')}`);
  const chosen = names.map((n) => SYSTEMS.find((s) => s.name === n)!);
  const results: Result[] = [];
  const running: Cluster[] = [];
  const cleanup = () => { for (const c of running) stopCluster(c); };
  process.once('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    // One cluster of each system at a time, levels in the same order: both see the same machine.
    for (const sys of chosen) {
      const cluster = await startWithLeader(sys);
      running.push(cluster);
      for (const c of levels) {
        const r = await runLevel(sys, cluster, c, seconds, target);
        results.push(r);
        console.error(`${sys.name.padEnd(18)} ${String(c).padStart(4)} in flight: ${r.opsPerSec.toFixed(0)} ops/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors, server CPU ${r.serverCpu.toFixed(0)}%, client CPU ${r.clientCpu.toFixed(0)}%`);
      }
      stopCluster(cluster);
      running.pop();
    }
  } finally {
    cleanup();
  }
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else console.log(`\nput, ${VALUE_BYTES}-byte values, ${KEYS} keys, ${seconds} s per level, requests to ${target === 'leader' ? 'the leader' : 'all members'}\n\n${table(results, levels, chosen.map((s) => s.name))}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
