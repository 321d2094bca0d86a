/**
 * gRPC request fuzz against a running in-process member (Raft, one voter): for every RPC of every
 * service it serves (KV, Watch, Lease, Cluster, Maintenance, Auth, Lock, Election), seeded random
 * and mutated-valid requests as protobuf bytes, and mutated-valid objects (wrong types, negative
 * and huge numbers, huge values, deeply nested transactions) encoded by the method's serializer;
 * first with auth disabled, then enabled (requests without a token, with a user's, with a forged
 * one). Every answer must be OK or a gRPC status with a code and never a JavaScript exception's
 * message; the member must stay up, take a put and a get after each phase, and still hold every
 * acknowledged write no acknowledged fuzz request was allowed to change. Counts by status code
 * print at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Prng, type Random } from '../../src/core/prng.js';
import { startMember, type Member } from '../../src/server/index.js';
import { electionService, etcdService, lockService } from '../../src/server/proto.js';
import { Counts, FUZZ_BUDGET, iterations, seedOf, withSeed } from '../fuzz-budget.js';
import { freePort } from '../ports.js';
import { mayChange, mutateBytes, mutateObject, randomBytes, validRequests, type Fixtures } from './grpc-requests.js';

/** Requests per RPC per phase at budget 1 (`npm test`); scripts/fuzz.mjs multiplies it. */
export const REQUESTS_PER_RPC = 10;
/** Requests in flight at once. */
export const CONCURRENCY = 8;
/** Each fuzz call's deadline (a Lock or Campaign that waits, an Observe, a watch: cut here). */
export const CALL_DEADLINE_MS = 1_500;
/** Acknowledged writes made before each phase, whose survival is checked after it. */
export const SENTINELS = 20;
/**
 * The test's deadline: 10 minutes up to budget 20 (which ran in 2 minutes on a loaded 2-core
 * machine), and in proportion to the budget above it (`npm run fuzz` runs budget 100).
 */
export const TEST_TIMEOUT_MS = 600_000 * Math.max(1, FUZZ_BUDGET / 20);

/** Messages that mean a handler threw where it should have answered with a status. */
const JS_EXCEPTION = /TypeError|RangeError|ReferenceError|SyntaxError|AssertionFailure|Cannot read propert|is not a function|is not iterable|undefined|Maximum call stack/;

const SERVICES: [string, grpc.ServiceClientConstructor][] = [
  ['KV', etcdService('KV')], ['Watch', etcdService('Watch')], ['Lease', etcdService('Lease')], ['Cluster', etcdService('Cluster')],
  ['Maintenance', etcdService('Maintenance')], ['Auth', etcdService('Auth')], ['Lock', lockService()], ['Election', electionService()],
];

interface Rpc {
  readonly name: string; // Service/Method
  readonly def: grpc.MethodDefinition<unknown, unknown>;
}

const RPCS: Rpc[] = SERVICES.flatMap(([service, ctor]) =>
  Object.entries(ctor.service).map(([method, def]) => ({ name: `${service}/${method}`, def: def as grpc.MethodDefinition<unknown, unknown> })));

const identity = (b: Buffer): Buffer => b;
const codeName = (code: number): string => grpc.status[code] ?? `code ${code}`;

/**
 * One call with `body` as the request's bytes; its outcome: 'OK' (a response, or a stream's
 * first message) or the status code's name. A stream is cancelled after its first message.
 */
function call(client: grpc.Client, rpc: Rpc, body: Buffer, token: string | null): Promise<{ outcome: string; details: string }> {
  const md = new grpc.Metadata();
  if (token !== null) md.set('token', token);
  const options = { deadline: Date.now() + CALL_DEADLINE_MS };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: string, details = ''): void => {
      if (settled) return;
      settled = true;
      resolve({ outcome, details });
    };
    const fromError = (err: grpc.ServiceError): void => {
      assert.equal(typeof err.code, 'number', `${rpc.name}: an error without a gRPC status code: ${err.message}`);
      finish(codeName(err.code), err.details);
    };
    if (!rpc.def.requestStream && !rpc.def.responseStream) {
      client.makeUnaryRequest(rpc.def.path, identity, identity, body, md, options, (err) => (err === null ? finish('OK') : fromError(err)));
      return;
    }
    const stream = rpc.def.requestStream
      ? client.makeBidiStreamRequest(rpc.def.path, identity, identity, md, options)
      : client.makeServerStreamRequest(rpc.def.path, identity, identity, body, md, options);
    stream.on('data', () => {
      finish('OK');
      stream.cancel();
    });
    stream.on('error', (err: grpc.ServiceError) => fromError(err));
    stream.on('end', () => finish('OK'));
    stream.on('status', (s: grpc.StatusObject) => finish(codeName(s.code), s.details));
    if (rpc.def.requestStream) {
      const duplex = stream as grpc.ClientDuplexStream<Buffer, Buffer>;
      duplex.write(body);
      duplex.end();
    }
  });
}

/** A fuzz request for `rpc`, as bytes, and (when the server could decode it) the request it decodes to. */
function fuzzRequest(r: Random, rpc: Rpc, valid: Record<string, unknown>, counts: Counts): { body: Buffer; decoded: Record<string, unknown> | null } | null {
  let body: Buffer;
  const roll = r.int(0, 3);
  if (roll === 0) body = randomBytes(r);
  else if (roll === 1) body = mutateBytes(r, rpc.def.requestSerialize(valid));
  else {
    try {
      body = rpc.def.requestSerialize(mutateObject(r, rpc.name, valid));
    } catch {
      counts.add('requests not encodable by the client (never sent)');
      return null;
    }
  }
  let decoded: Record<string, unknown> | null = null;
  try {
    decoded = rpc.def.requestDeserialize(body) as Record<string, unknown>;
  } catch {
    // Undecodable: the server (the same protobuf decoder) refuses it before any handler runs.
  }
  return { body, decoded };
}

interface Server {
  readonly member: Member;
  readonly address: string;
  readonly dir: string;
}

async function startOne(): Promise<Server> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'quorate-grpc-fuzz-'));
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const member = await startMember({
    name: 'm1', protocol: 'raft', dataDir: join(dir, 'm1'), listenClientUrls: [client], advertiseClientUrls: [client], listenPeerUrls: [peer],
    initialAdvertisePeerUrls: [peer], initialCluster: `m1=${peer}`, initialClusterState: 'new', initialClusterToken: 'grpc-fuzz',
    clientTls: null, peerTls: null, snapshotCount: 500, heartbeatIntervalMs: 50, electionTimeoutMs: 300,
    maxRequestBytes: 1.5 * 1024 * 1024, maxTxnOps: 128, logger: () => {},
  });
  return { member, address: `127.0.0.1:${clientPort}`, dir };
}

/** One well-formed unary call (object request), rejecting on any error; retried while the member elects itself. */
async function unary<Res = Record<string, unknown>>(s: Server, service: string, method: string, req: object, token: string | null = null): Promise<Res> {
  const [, ctor] = SERVICES.find(([n]) => n === service)!;
  const client = new ctor(s.address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (token !== null) md.set('token', token);
  try {
    return await new Promise<Res>((resolve, reject) => {
      (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!.call(client, req, md, { deadline: Date.now() + 10_000 },
        (err: Error | null, res: Res) => (err === null ? resolve(res) : reject(err)));
    });
  } finally {
    client.close();
  }
}

/** Acknowledged puts of `prefix`0..SENTINELS-1; their keys and values. */
async function writeSentinels(s: Server, prefix: string, token: string | null): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < SENTINELS; i++) {
    const key = `${prefix}${i}`;
    await unary(s, 'KV', 'Put', { key: Buffer.from(key), value: Buffer.from(`v${i}`) }, token);
    out.set(key, `v${i}`);
  }
  return out;
}

/** The member is up: alarms raised by the fuzz are cleared, then a put and a get round-trip. */
async function assertServing(s: Server, token: string | null, what: string): Promise<void> {
  const alarms = await unary<{ alarms: { memberID: number; alarm: string }[] }>(s, 'Maintenance', 'Alarm', { action: 'GET' }, token);
  for (const a of alarms.alarms) await unary(s, 'Maintenance', 'Alarm', { action: 'DEACTIVATE', memberID: a.memberID, alarm: a.alarm }, token);
  await unary(s, 'KV', 'Put', { key: Buffer.from('after-fuzz'), value: Buffer.from(what) }, token);
  const got = await unary<{ kvs: { value: Buffer }[] }>(s, 'KV', 'Range', { key: Buffer.from('after-fuzz') }, token);
  assert.equal(got.kvs[0]?.value.toString(), what, `${what}: a put and a get after the fuzz`);
}

/** Every sentinel no acknowledged fuzz request could change still reads back as written. */
async function assertSentinels(s: Server, sentinels: Map<string, string>, changed: Set<string>, token: string | null, counts: Counts): Promise<void> {
  for (const [key, value] of sentinels) {
    if (changed.has(key)) {
      counts.add('sentinels changed by an acknowledged fuzz request (not checked)');
      continue;
    }
    const got = await unary<{ kvs: { value: Buffer }[] }>(s, 'KV', 'Range', { key: Buffer.from(key) }, token);
    assert.equal(got.kvs[0]?.value.toString(), value, `acknowledged write ${key} still reads back`);
    counts.add('sentinels checked');
  }
}

/** One phase: REQUESTS_PER_RPC fuzz requests for every RPC, CONCURRENCY at a time. */
async function fuzzPhase(s: Server, phase: string, seedOffset: number, tokens: (string | null)[], fixtures: Fixtures, sentinelKeys: Buffer[], changed: Set<string>, counts: Counts): Promise<void> {
  const valid = validRequests(fixtures);
  const client = new grpc.Client(s.address, grpc.credentials.createInsecure());
  const jobs: { rpc: Rpc; k: number }[] = [];
  for (const rpc of RPCS) for (let k = 0; k < iterations(REQUESTS_PER_RPC); k++) jobs.push({ rpc, k });
  try {
    for (let i = 0; i < jobs.length; i += CONCURRENCY) {
      await Promise.all(jobs.slice(i, i + CONCURRENCY).map(async ({ rpc, k }, j) => {
        const seed = seedOf(i + j, seedOffset);
        await withSeed(seed, `grpc ${phase} ${rpc.name}`, async () => {
          const r = new Prng(seed);
          const req = fuzzRequest(r, rpc, valid[rpc.name] ?? {}, counts);
          if (req === null) return;
          const { outcome, details } = await call(client, rpc, req.body, r.pick(tokens));
          assert.doesNotMatch(details, JS_EXCEPTION, `${rpc.name} answered with a JavaScript exception's message`);
          counts.add(`${phase}: ${outcome}`);
          counts.add(`${phase} ${rpc.name.split('/')[0]}: ${outcome}`);
          // UNKNOWN is what grpc-js answers for a handler's error without a status: name them.
          if (outcome === 'UNKNOWN') counts.add(`${phase} ${rpc.name} UNKNOWN: ${details.slice(0, 120)}`);
          if (outcome === 'OK' && req.decoded !== null && mayChange(rpc.name, req.decoded, sentinelKeys)) {
            for (const key of sentinelKeys) if (mayChange(rpc.name, req.decoded, [key])) changed.add(key.toString());
          }
          void k;
        });
      }));
    }
  } finally {
    client.close();
  }
}

test('gRPC request fuzz: every RPC, auth off and on; every answer OK or a status code, the member keeps serving and keeps acknowledged writes', { timeout: TEST_TIMEOUT_MS }, async () => {
  const counts = new Counts();
  const s = await startOne();
  try {
    await unary(s, 'KV', 'Put', { key: Buffer.from('warm-up'), value: Buffer.from('1') });
    const lease = await unary<{ ID: number }>(s, 'Lease', 'LeaseGrant', { TTL: 600 });
    const status = await unary<{ header: { member_id: number } }>(s, 'Maintenance', 'Status', {});
    const fixtures: Fixtures = { lease: Number(lease.ID), memberId: String(status.header.member_id) };
    const changed = new Set<string>();

    // ---- auth disabled ----
    const open = await writeSentinels(s, 'keep/', null);
    const openKeys = [...open.keys()].map((k) => Buffer.from(k));
    await fuzzPhase(s, 'auth off', 0, [null], fixtures, openKeys, changed, counts);
    await assertServing(s, null, 'auth off');
    await assertSentinels(s, open, changed, null, counts);

    // ---- auth enabled: root and a user allowed only fuzz/ ----
    const tolerate = (p: Promise<unknown>) => p.catch((e: grpc.ServiceError) => assert.match(e.details, /already exists|already granted/, e.message));
    await tolerate(unary(s, 'Auth', 'UserAdd', { name: 'root', password: 'rootpw' }));
    await tolerate(unary(s, 'Auth', 'RoleAdd', { name: 'root' }));
    await tolerate(unary(s, 'Auth', 'UserGrantRole', { user: 'root', role: 'root' }));
    await tolerate(unary(s, 'Auth', 'UserAdd', { name: 'fuzz-user', password: 'fuzz-pw' }));
    await tolerate(unary(s, 'Auth', 'RoleAdd', { name: 'fuzz-role' }));
    await unary(s, 'Auth', 'RoleGrantPermission', { name: 'fuzz-role', perm: { permType: 'READWRITE', key: Buffer.from('fuzz/'), range_end: Buffer.from('fuzz0') } });
    await tolerate(unary(s, 'Auth', 'UserGrantRole', { user: 'fuzz-user', role: 'fuzz-role' }));
    // The auth-off fuzz may have added root or changed a password (a mutated UserAdd or
    // UserChangePassword naming 'root'): set both passwords to the ones used below.
    await unary(s, 'Auth', 'UserChangePassword', { name: 'root', password: 'rootpw' });
    await unary(s, 'Auth', 'UserChangePassword', { name: 'fuzz-user', password: 'fuzz-pw' });
    await unary(s, 'Auth', 'AuthEnable', {});
    const root = (await unary<{ token: string }>(s, 'Auth', 'Authenticate', { name: 'root', password: 'rootpw' })).token;
    const user = (await unary<{ token: string }>(s, 'Auth', 'Authenticate', { name: 'fuzz-user', password: 'fuzz-pw' })).token;
    const guarded = await writeSentinels(s, 'keep-auth/', root);
    const guardedKeys = [...guarded.keys()].map((k) => Buffer.from(k));
    await fuzzPhase(s, 'auth on', 1_000_000, [null, user, `${user}forged`, 'garbage.token'], fixtures, [...openKeys, ...guardedKeys], changed, counts);
    await assertServing(s, root, 'auth on');
    await assertSentinels(s, open, changed, root, counts);
    await assertSentinels(s, guarded, changed, root, counts);
    // With auth on, the user may write only fuzz/: no request of it may have changed a guarded key.
    for (const k of guarded.keys()) assert.ok(!changed.has(k), `${k} was changed by a request without the permission`);
  } finally {
    await s.member.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
  console.log(counts.report('gRPC request fuzz outcomes'));
  const all = counts.report('');
  assert.match(all, /auth off: OK/, 'some fuzz requests were valid enough to succeed');
  assert.match(all, /auth on: PERMISSION_DENIED|auth on: UNAUTHENTICATED|auth on: INVALID_ARGUMENT/, 'auth refused requests');
});
