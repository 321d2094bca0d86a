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
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { etcdService, memberStatus } from '../src/server/proto.js';
import { generateKeyFiles } from '../src/node/bft-keys.js';

const VALUE_BYTES = 256;
const KEYS = 10_000;
const WARMUP_MS = 1_000;
const CLIENT_CHANNELS = 4;
const CLK_TCK = 100; // /proc/PID/stat time unit on Linux

interface System {
  readonly name: string;
  readonly command: string[];
  readonly basePort: number;
  readonly members: number;
  /** Flags for one member, given the cluster's directory (prepared by `prepare`). */
  readonly memberFlags?: (dir: string, name: string) => string[];
  readonly prepare?: (dir: string, names: readonly string[]) => Promise<void>;
}

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QUORATE = [process.execPath, MAIN, 'serve'];
const SYSTEMS: readonly System[] = [
  { name: 'etcd', command: ['etcd'], basePort: 12379, members: 3 },
  { name: 'quorate', command: QUORATE, basePort: 13379, members: 3 },
  { name: 'quorate-multipaxos', command: [...QUORATE, '--protocol', 'multipaxos'], basePort: 14379, members: 3 },
  {
    name: 'quorate-pbft', command: [...QUORATE, '--protocol', 'pbft'], basePort: 15379, members: 4,
    prepare: async (dir, names) => { await generateKeyFiles(join(dir, 'keys'), names); },
    memberFlags: (dir, name) => ['--bft-private-key', join(dir, 'keys', `${name}.key`), '--bft-public-keys', join(dir, 'keys', 'public-keys.json')],
  },
];

interface Cluster {
  readonly children: ChildProcess[];
  readonly endpoints: string[];
  readonly dir: string;
  leader: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startCluster(sys: System): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${sys.name}-`));
  const members = Array.from({ length: sys.members }, (_, i) => ({ name: `b${i + 1}`, client: sys.basePort + i * 100, peer: sys.basePort + 1 + i * 100 }));
  await sys.prepare?.(dir, members.map((m) => m.name));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const children = members.map((m) => {
    const log = openSync(join(dir, `${m.name}.log`), 'a');
    const [cmd, ...args] = sys.command;
    return spawn(cmd!, [...args,
      '--name', m.name, '--data-dir', join(dir, m.name),
      '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `bench-${sys.name}`,
      ...(sys.memberFlags?.(dir, m.name) ?? []),
    ], { stdio: ['ignore', log, log] });
  });
  const cluster: Cluster = { children, endpoints: members.map((m) => `127.0.0.1:${m.client}`), dir, leader: '' };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const statuses = await Promise.all(cluster.endpoints.map((e) => memberStatus(e, 1_000)));
      const leaderId = statuses[0]!.leader;
      const i = statuses.findIndex((s) => s.header.member_id === leaderId);
      if (leaderId !== 0 && statuses.every((s) => s.leader === leaderId) && i >= 0) {
        cluster.leader = cluster.endpoints[i]!;
        return cluster;
      }
    } catch {
      // still starting
    }
    await sleep(200);
  }
  stopCluster(cluster, true);
  throw new Error(`${sys.name} did not elect a leader within 30 s; logs in ${dir}`);
}

function stopCluster(c: Cluster, keepLogs = false): void {
  for (const child of c.children) child.kill('SIGKILL');
  if (!keepLogs) rmSync(c.dir, { recursive: true, force: true });
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

async function runLevel(sys: System, cluster: Cluster, concurrency: number, seconds: number, target: 'leader' | 'all'): Promise<Result> {
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
      const cluster = await startCluster(sys);
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
