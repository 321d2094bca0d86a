/**
 * Failover (issue 21): a 3-member cluster, the leader's process SIGKILLed, and the time until the
 * next put succeeds, quorate (Raft) beside etcd, each on its default timing (100 ms heartbeat,
 * 1000 ms election timeout). Per trial: a fresh cluster on fresh data directories, writes flowing
 * until the kill, then a put sent to each surviving member every PUT_EVERY_MS (either may forward
 * it to the leader it learns of), and the time from the kill to the first put answered ok. Trials
 * alternate between the systems; median and max per system. Client and servers share this
 * machine's cores: compare within one run.
 *
 * Run: `npm run build && node dist/bench/failover-vs-etcd.js [--trials 5] [--systems etcd,quorate,quorate-multipaxos]`
 * (etcd: Debian's etcd-server, /usr/bin/etcd; see put-vs-etcd.sh for installing it).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { etcdService } from '../src/server/proto.js';
import { leaderIndex, startCluster, stopCluster, type LocalSystem } from './local-cluster.js';

const PUT_EVERY_MS = 10;
const PUT_DEADLINE_MS = 5_000;
const SETTLE_MS = 1_500;


const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SYSTEMS: readonly LocalSystem[] = [
  { name: 'etcd', command: ['etcd'], basePort: 22379, members: 3 },
  { name: 'quorate', command: [process.execPath, MAIN, 'serve'], basePort: 23379, members: 3 },
  { name: 'quorate-multipaxos', command: [process.execPath, MAIN, 'serve', '--protocol', 'multipaxos'], basePort: 24379, members: 3 },
];


/** One trial: ms from the leader's SIGKILL to the first put answered ok. */
async function trial(sys: LocalSystem): Promise<number> {
  const c = await startCluster(sys, 'failover');
  const KV = etcdService('KV');
  const clients = c.endpoints.map((e) => new KV(e, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const put = (i: number, n: number) => new Promise<boolean>((resolve) =>
    clients[i]!['Put']!({ key: Buffer.from(`k${n % 16}`), value: Buffer.from(`v${n}`) }, { deadline: Date.now() + PUT_DEADLINE_MS }, (err: Error | null) => resolve(err === null)));
  try {
    const leader = await leaderIndex(c);
    // Writes flow, through every member, before the kill (connections up, the leader busy).
    let n = 0;
    const settleUntil = Date.now() + SETTLE_MS;
    while (Date.now() < settleUntil) await Promise.all([0, 1, 2].map((i) => put(i, n++)));
    const survivors = [0, 1, 2].filter((i) => i !== leader);
    c.children[leader]!.kill('SIGKILL');
    const killedAt = performance.now();
    return await new Promise<number>((resolve, reject) => {
      let done = false;
      const timer = setInterval(() => {
        if (performance.now() - killedAt > 30_000) {
          clearInterval(timer);
          if (!done) reject(new Error(`${sys.name}: no put succeeded within 30 s of the kill`));
          done = true;
          return;
        }
        for (const i of survivors) {
          void put(i, n++).then((ok) => {
            if (!ok || done) return;
            done = true;
            clearInterval(timer);
            resolve(performance.now() - killedAt);
          });
        }
      }, PUT_EVERY_MS);
    });
  } finally {
    for (const client of clients) client.close();
    stopCluster(c);
  }
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const { values } = parseArgs({ options: { trials: { type: 'string', default: '5' }, systems: { type: 'string', default: 'etcd,quorate' } } });
const trials = Number(values.trials);
const systems = SYSTEMS.filter((s) => values.systems.split(',').includes(s.name));
const results = new Map<string, number[]>(systems.map((s) => [s.name, []]));
for (let t = 1; t <= trials; t++) {
  for (const sys of systems) {
    const ms = await trial(sys);
    results.get(sys.name)!.push(ms);
    console.log(`trial ${t} ${sys.name}: leader SIGKILL -> next put ok in ${ms.toFixed(0)} ms`);
  }
}
console.log('\nsystem     trials  median ms  max ms  (leader SIGKILL -> next put succeeds; 100 ms heartbeat, 1000 ms election timeout)');
for (const [name, xs] of results) {
  console.log(`${name.padEnd(10)} ${String(xs.length).padStart(6)}  ${median(xs).toFixed(0).padStart(9)}  ${Math.max(...xs).toFixed(0).padStart(6)}`);
}
