/**
 * Test harness: four in-process PBFT members (f = 1) on loopback, on ports the system hands out
 * (so a test running beside another cannot hold them), keys generated per member, each member
 * startable again on its data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { generateKeyFiles } from '../../src/node/bft-keys.js';
import type { AutoCompactionOptions } from '../../src/server/auto-compaction.js';
import { startMember, type Member } from '../../src/server/index.js';
import { etcdService } from '../../src/server/proto.js';
import { freePort } from './process-cluster.js';

/** Deadline of each call: PBFT orders a login and a write in well under this on loopback. */
export const CALL_DEADLINE_MS = 15_000;

/** One raw unary call to `url` (http://host:port), so the test chooses the member and the token itself. */
export function rawCall<Res>(url: string, service: Parameters<typeof etcdService>[0], method: string, request: object, token?: string): Promise<Res> {
  const client = new (etcdService(service))(url.replace(/^http:\/\//, ''), grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('token', token);
  return new Promise<Res>((resolve, reject) => {
    client[method]!(request, metadata, { deadline: Date.now() + CALL_DEADLINE_MS }, (err: grpc.ServiceError | null, res: Res) => {
      client.close();
      if (err !== null) reject(err);
      else resolve(res);
    });
  });
}

/** Root's password in the tests that turn auth on (enableRootAuth). */
export const ROOT_PASSWORD = 'rootpw';

/** A client of member i that logs in as root (ROOT_PASSWORD); every call has a deadline. */
export function rootClient(cluster: PbftMembers, i: number): Etcd3 {
  return new Etcd3({ hosts: cluster.clientUrl(i), auth: { username: 'root', password: ROOT_PASSWORD }, defaultCallOptions: () => ({ deadline: Date.now() + CALL_DEADLINE_MS }) });
}

/** Create root (with the root role) and turn auth on, through an anonymous client. */
export async function enableRootAuth(anon: Etcd3): Promise<void> {
  await anon.user('root').create(ROOT_PASSWORD);
  await anon.role('root').create();
  await anon.user('root').addRole('root');
  await anon.auth.authEnable({});
}

export interface PbftMembers {
  readonly names: readonly string[];
  readonly dir: string;
  /** Start member i (again, after a stop: on the same data directory). */
  start(i: number): Promise<Member>;
  /** A client of member i only; every call has a deadline, so a stuck cluster fails a test instead of hanging it. */
  client(i: number, deadlineMs?: number): Etcd3;
  /** Member i's client URL (gRPC and HTTP: /health, /metrics). */
  clientUrl(i: number): string;
  /** Remove the directory (members must be stopped). */
  remove(): void;
}

export async function pbftMembers(token: string, names: readonly string[] = ['m1', 'm2', 'm3', 'm4'], overrides: { readonly maxRequestBytes?: number; readonly autoCompaction?: AutoCompactionOptions } = {}): Promise<PbftMembers> {
  const ports: number[] = [];
  for (let i = 0; i < 2 * names.length; i++) ports.push(await freePort());
  const peer = (i: number) => `http://127.0.0.1:${ports[names.length + i]!}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[i]!}`;
  const dir = mkdtempSync(join(tmpdir(), `quorate-${token}-`));
  const keys = await generateKeyFiles(join(dir, 'keys'), names);
  return {
    names,
    dir,
    start: (i) => startMember({
      name: names[i]!, dataDir: join(dir, names[i]!), listenClientUrls: [clientUrl(i)], advertiseClientUrls: [clientUrl(i)], listenPeerUrls: [peer(i)],
      initialAdvertisePeerUrls: [peer(i)], initialCluster: names.map((n, j) => `${n}=${peer(j)}`).join(','), initialClusterState: 'new',
      initialClusterToken: token, clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50, electionTimeoutMs: 500,
      maxRequestBytes: overrides.maxRequestBytes ?? 1 << 20, maxTxnOps: 128, logger: () => {}, protocol: 'pbft',
      ...(overrides.autoCompaction === undefined ? {} : { autoCompaction: overrides.autoCompaction }),
      memberKeys: { privateKeyFile: keys.privateKeyFiles[i]!.file, publicKeysFile: keys.publicKeysFile },
    }),
    client: (i, deadlineMs = 15_000) => new Etcd3({ hosts: clientUrl(i), defaultCallOptions: () => ({ deadline: Date.now() + deadlineMs }) }),
    clientUrl,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
