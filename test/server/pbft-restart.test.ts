/**
 * PBFT members keep their protocol state on disk: a member stopped and started again on its data
 * directory comes back as the same replica (its log and its stable checkpoint), catches up, and
 * serves; a whole cluster stopped and started again still holds every acknowledged write.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { startMember, type Member } from '../../src/server/index.js';
import { generateKeyFiles } from '../../src/node/bft-keys.js';
import { freePort } from './process-cluster.js';

/** Sequential writes: more than one checkpoint interval of the node runtime (128), so a stable checkpoint is on disk. */
const WRITES = 300;

test('quorate serve --protocol pbft: a member restarted on its data directory, and then the whole cluster, keep every acknowledged write', { timeout: 180_000 }, async () => {
  const names = ['m1', 'm2', 'm3', 'm4'];
  const ports: number[] = [];
  for (let i = 0; i < 2 * names.length; i++) ports.push(await freePort());
  const peer = (i: number) => `http://127.0.0.1:${ports[names.length + i]!}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[i]!}`;
  const dir = mkdtempSync(join(tmpdir(), 'quorate-pbft-restart-'));
  const keys = await generateKeyFiles(join(dir, 'keys'), names);
  const start = (i: number): Promise<Member> => startMember({
    name: names[i]!, dataDir: join(dir, names[i]!), listenClientUrls: [clientUrl(i)], advertiseClientUrls: [clientUrl(i)], listenPeerUrls: [peer(i)],
    initialAdvertisePeerUrls: [peer(i)], initialCluster: names.map((n, j) => `${n}=${peer(j)}`).join(','), initialClusterState: 'new',
    initialClusterToken: 'pbft-restart-test', clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50, electionTimeoutMs: 500,
    maxRequestBytes: 1 << 20, maxTxnOps: 128, logger: () => {}, protocol: 'pbft',
    pbftKeys: { privateKeyFile: keys.privateKeyFiles[i]!.file, publicKeysFile: keys.publicKeysFile },
  });
  const client = (i: number) => new Etcd3({ hosts: clientUrl(i), defaultCallOptions: () => ({ deadline: Date.now() + 20_000 }) });
  let members: (Member | null)[] = await Promise.all(names.map((_, i) => start(i)));
  const clients: Etcd3[] = [];
  const open = (i: number): Etcd3 => {
    const c = client(i);
    clients.push(c);
    return c;
  };
  try {
    const viaM2 = open(1);
    for (let i = 0; i < WRITES; i++) await viaM2.put(`k${i}`).value(`v${i}`);
    const snaps = join(dir, 'm3', 'pbft', 'snap');
    assert.ok(existsSync(snaps) && readdirSync(snaps).some((f) => f.endsWith('.snap')), 'm3 wrote a stable checkpoint as a snapshot');

    // One member down (f = 1): the others go on; back up, it catches up from its own log.
    await members[2]!.stop();
    members[2] = null;
    await viaM2.put('while-m3-was-down').value('yes');
    members[2] = await start(2);
    const viaM3 = open(2);
    assert.equal(await viaM3.get('while-m3-was-down').string(), 'yes');
    assert.equal(await viaM3.get(`k${WRITES - 1}`).string(), `v${WRITES - 1}`);
    await viaM3.put('after-m3-restart').value('yes');

    // Every member down, then up again from its data directory.
    await Promise.all(members.map((m) => m?.stop()));
    members = names.map(() => null);
    for (const c of clients.splice(0)) c.close();
    members = await Promise.all(names.map((_, i) => start(i)));
    const viaM4 = open(3);
    assert.equal(await viaM4.get('after-m3-restart').string(), 'yes');
    const all = await viaM4.getAll().prefix('k').strings();
    assert.equal(Object.keys(all).length, WRITES, 'every acknowledged write survived the restart');
    assert.equal(all['k0'], 'v0');
    await viaM4.put('after-full-restart').value('yes');
    assert.equal(await open(0).get('after-full-restart').string(), 'yes');
  } finally {
    for (const c of clients) c.close();
    await Promise.all(members.map((m) => m?.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
});
