/**
 * Apply is total: bytes in the log that are no command are applied as an error result on every
 * member, and every member keeps running. Under a Byzantine protocol one member can order any
 * bytes as its own client; under a crash-fault one a faulty member can forward them. Before, the
 * state machines threw inside the Ready loop, which stopped every honest member (and again on
 * each restart, since it applies the same log).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack } from '../../src/core/codec.js';
import type { Index } from '../../src/core/ids.js';
import type { ProtocolDefinition } from '../../src/core/protocol.js';
import type { StateMachine } from '../../src/core/replica.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { KvStateMachine, encodeKvCommand, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import { RegisterKv, encodeCommand, type RegisterResult } from '../../src/statemachine/register-kv.js';
import { Answer, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

/** The state machine under test, recording what each apply answered. */
class Recording<R> implements StateMachine<R> {
  readonly results: R[] = [];
  constructor(readonly inner: StateMachine<R>) {}
  apply(command: Uint8Array, index: Index): R {
    const r = this.inner.apply(command, index);
    this.results.push(r);
    return r;
  }
  snapshot(): Uint8Array {
    return this.inner.snapshot();
  }
  restore(data: Uint8Array): void {
    this.inner.restore(data);
  }
}

interface Machine<R> {
  readonly name: string;
  create(): StateMachine<R>;
  /** A well-formed write with a distinct session per call. */
  write(n: number): Uint8Array;
  readonly malformed: R;
}

const kv: Machine<KvOutcome> = {
  name: 'the etcd KV state machine',
  create: () => new KvStateMachine(),
  write: (n) => encodeKvCommand({
    client: `c${n}`, seq: 1, lowestPending: 1,
    request: { op: 'put', key: Buffer.from('k'), value: Buffer.from(String(n)), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false },
  }),
  malformed: { ok: false, error: 'malformed-command' },
};

const register: Machine<RegisterResult> = {
  name: 'the register map',
  create: () => new RegisterKv(),
  write: (n) => encodeCommand({ client: n, seq: 1, op: { f: 'put', key: 'k', value: n } }),
  malformed: { ok: false, value: null, error: 'malformed-command' },
};

/** Not MessagePack; MessagePack of no command; a command whose request has a field of the wrong type. */
const GARBAGE: readonly Uint8Array[] = [
  new Uint8Array([0xc1, 0xc1, 0xc1]),
  pack(42),
  pack({ client: 'x', seq: 1, lowestPending: 1, request: { op: 'put', key: 'a string, not bytes' } }),
];

const PBFT_TIMING = { tickMs: 100, heartbeatIntervalMs: 100, electionTimeoutMs: 1_000 };

function cluster<R>(protocol: ProtocolDefinition, m: Machine<R>): TestCluster<R> {
  const names = protocol.client.kind === 'leader' ? ['n1', 'n2', 'n3'] : ['n1', 'n2', 'n3', 'n4'];
  const protocolOptions = protocol.client.kind === 'leader' ? QUIET_LEADER_OPTIONS : protocol.timingOptions(PBFT_TIMING);
  const c = new TestCluster<R>(names, { protocol, stateMachine: () => new Recording(m.create()), protocolOptions });
  if (protocol.client.kind === 'leader') c.elect('n1');
  return c;
}

for (const protocolName of ['raft', 'pbft']) {
  for (const m of [kv, register] as Machine<unknown>[]) {
    test(`${protocolName}, ${m.name}: a committed command that cannot be decoded is applied as an error result on every member, which keep running`, () => {
      const protocol = protocolByName(protocolName);
      const c = cluster(protocol, m);
      // Proposed at a member that does not lead (forwarded under the leader model; under the
      // quorum model every member orders as its own clients).
      const proposer = c.driver('n2');
      const answers = GARBAGE.map(() => new Answer<unknown>());
      GARBAGE.forEach((g, i) => proposer.propose(g, answers[i]!.reply));
      c.runFor(3_000);
      for (const a of answers) {
        assert.equal(a.outcome, 'ok', 'the proposer is answered with the result, not an error');
        assert.deepEqual(a.answers[0]!.value, m.malformed);
      }
      for (const member of c.members.values()) {
        assert.ok(member.driver.running, `${member.id} keeps running`);
        const results = (member.stateMachine as Recording<unknown>).results;
        assert.deepEqual(results.filter((r) => JSON.stringify(r) === JSON.stringify(m.malformed)).length, GARBAGE.length, `${member.id} applied each as an error`);
      }
      // And the cluster still takes writes, everywhere alike.
      const write = new Answer<unknown>();
      c.driver('n3').propose(m.write(7), write.reply);
      c.runFor(3_000);
      assert.equal(write.outcome, 'ok');
      const snapshots = [...c.members.values()].map((x) => Buffer.from(x.stateMachine.snapshot()).toString('hex'));
      assert.equal(new Set(snapshots).size, 1, 'every member holds the same state');
    });
  }
}

test('propose refuses an empty command before it reaches the log', () => {
  const c = cluster(protocolByName('raft'), kv);
  const saves = c.member('n1').storage.saves.length;
  for (const name of ['n1', 'n2']) {
    const a = new Answer<unknown>();
    c.driver(name).propose(new Uint8Array(0), a.reply);
    assert.equal(a.outcome, 'INVALID_ARGUMENT');
  }
  c.settle();
  assert.equal(c.member('n1').storage.saves.length, saves, 'nothing was appended');
});
