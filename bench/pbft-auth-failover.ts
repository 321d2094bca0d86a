/**
 * Auth under PBFT with a client that spreads its calls over every member: 20 puts as root
 * through the `etcd3` client configured with all four members' endpoints (it authenticates at its
 * first host and sends each call to a host it shuffles), against the same client with one
 * endpoint. Four in-process members on loopback, fresh each run; the time includes the client's
 * first Authenticate (and, with four endpoints, each member's first binding to root's session).
 *   npm run build && node dist/bench/pbft-auth-failover.js [runs]
 *
 * Before tokens carried the session's seed, a token was good only at the member that issued it:
 * each switch of member was "invalid auth token", and the client authenticated again.
 */
import { Etcd3 } from 'etcd3';
import { pbftMembers } from '../test/server/pbft-members.js';

const PUTS = 20;
/** Deadline of each call: a stuck cluster ends the run instead of hanging it. */
const CALL_DEADLINE_MS = 30_000;

async function run(endpoints: 'all' | 'one'): Promise<number> {
  const cluster = await pbftMembers(`bench-auth-${endpoints}`);
  const members = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const anon = cluster.client(0);
  const hosts = endpoints === 'all' ? cluster.names.map((_, i) => cluster.clientUrl(i)) : [cluster.clientUrl(0)];
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
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
}

const runs = Number(process.argv[2] ?? 3);
console.log(`${PUTS} puts as root through the etcd3 client, 4 in-process PBFT members on loopback, ${runs} runs each (seconds)`);
const seconds: Record<'all' | 'one', number[]> = { all: [], one: [] };
for (let r = 0; r < runs; r++) {
  for (const endpoints of ['all', 'one'] as const) seconds[endpoints].push(await run(endpoints));
}
for (const endpoints of ['all', 'one'] as const) {
  const sorted = [...seconds[endpoints]].sort((a, b) => a - b);
  console.log(`${endpoints === 'all' ? 'all four endpoints' : 'one endpoint     '}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} s (runs: ${seconds[endpoints].map((s) => s.toFixed(2)).join(', ')})`);
}
