/**
 * Auth under PBFT with a client that spreads its calls over every member: 20 puts as root
 * through the `etcd3` client configured with all four members' endpoints (it authenticates at its
 * first host and sends each call to a host it shuffles), against the same client with one
 * endpoint. Four members on loopback, fresh each run, in this process or (--processes) each a
 * `quorate serve --protocol pbft` process; the time includes the client's first Authenticate
 * (and, with four endpoints, each member's first binding to root's session).
 *   npm run build && node dist/bench/pbft-auth-failover.js [runs] [--processes]
 *
 * Before tokens carried the session's seed, a token was good only at the member that issued it:
 * each switch of member was "invalid auth token", and the client authenticated again.
 */
import { Etcd3 } from 'etcd3';
import { pbftMembers } from '../test/server/pbft-members.js';
import { ProcessCluster } from '../test/server/process-cluster.js';

const PUTS = 20;
/** Deadline of each call: a stuck cluster ends the run instead of hanging it. */
const CALL_DEADLINE_MS = 30_000;

/** Four members on loopback: their client URLs, and how to stop them and remove their data. */
async function startCluster(processes: boolean, token: string): Promise<{ urls: string[]; stop(): Promise<void> }> {
  if (processes) {
    const cluster = await ProcessCluster.start(4, ['--protocol', 'pbft'], { memberKeys: true, leaderQuorum: 3 });
    return { urls: cluster.names.map((n) => `http://${cluster.endpoint(n)}`), stop: () => cluster.stop() };
  }
  const cluster = await pbftMembers(token);
  const members = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  return {
    urls: cluster.names.map((_, i) => cluster.clientUrl(i)),
    stop: async () => {
      await Promise.all(members.map((m) => m.stop()));
      cluster.remove();
    },
  };
}

async function run(endpoints: 'all' | 'one', processes: boolean): Promise<number> {
  const cluster = await startCluster(processes, `bench-auth-${endpoints}`);
  const anon = new Etcd3({ hosts: cluster.urls[0]!, defaultCallOptions: () => ({ deadline: Date.now() + CALL_DEADLINE_MS }) });
  const hosts = endpoints === 'all' ? cluster.urls : [cluster.urls[0]!];
  const client = new Etcd3({ hosts, auth: { username: 'root', password: 'rootpw' }, defaultCallOptions: () => ({ deadline: Date.now() + CALL_DEADLINE_MS }) });
  try {
    await anon.user('root').create('rootpw');
    await anon.role('root').create();
    await anon.user('root').addRole('root');
    await anon.auth.authEnable({});
    const started = performance.now();
    for (let i = 0; i < PUTS; i++) await client.put(`k${i}`).value(`v${i}`);
    return (performance.now() - started) / 1000;
  } finally {
    client.close();
    anon.close();
    await cluster.stop();
  }
}

const args = process.argv.slice(2);
const processes = args.includes('--processes');
const runs = Number(args.find((a) => !a.startsWith('--')) ?? 3);
console.log(`${PUTS} puts as root through the etcd3 client, 4 PBFT members on loopback (${processes ? 'one process each' : 'in this process'}), ${runs} runs each (seconds)`);
const seconds: Record<'all' | 'one', number[]> = { all: [], one: [] };
for (let r = 0; r < runs; r++) {
  for (const endpoints of ['all', 'one'] as const) seconds[endpoints].push(await run(endpoints, processes));
}
for (const endpoints of ['all', 'one'] as const) {
  const sorted = [...seconds[endpoints]].sort((a, b) => a - b);
  console.log(`${endpoints === 'all' ? 'all four endpoints' : 'one endpoint     '}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} s (runs: ${seconds[endpoints].map((s) => s.toFixed(2)).join(', ')})`);
}
