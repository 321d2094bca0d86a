/**
 * A leader checks the shape of every command a peer forwards before it proposes it (issue 15,
 * item 2): a member's own server builds well-formed commands, so bytes that are no command come
 * from a faulty or forged peer (one `forward-proposal` carrying the byte 0x01 once stopped every
 * member). Refused with INVALID_ARGUMENT, they never take a slot in the log; a well-formed
 * forwarded command still commits. Apply stays total for what reaches the log by other paths
 * (apply-total.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack } from '../../src/core/codec.js';
import type { StateMachine } from '../../src/core/replica.js';
import type { ForwardResult } from '../../src/driver/wire.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { KvStateMachine, encodeKvCommand } from '../../src/statemachine/mvcc/index.js';
import { RegisterKv, encodeCommand } from '../../src/statemachine/register-kv.js';
import { QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

interface Machine {
  readonly name: string;
  create(): StateMachine<unknown>;
  /** A well-formed write. */
  readonly write: Uint8Array;
}

const MACHINES: readonly Machine[] = [
  {
    name: 'the etcd KV state machine',
    create: () => new KvStateMachine(),
    write: encodeKvCommand({
      client: 'c1', seq: 1, lowestPending: 1,
      request: { op: 'put', key: Buffer.from('k'), value: Buffer.from('v'), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false },
    }),
  },
  { name: 'the register map', create: () => new RegisterKv(), write: encodeCommand({ client: 1, seq: 1, op: { f: 'put', key: 'k', value: 1 } }) },
];

/** The byte of the reproduction, MessagePack that is no MessagePack, a number, a map without a request. */
const GARBAGE: readonly [string, Uint8Array][] = [
  ['the byte 0x01', new Uint8Array([0x01])],
  ['no MessagePack', new Uint8Array([0xc1, 0xc1])],
  ['a number', pack(42)],
  ['a map that is no command', pack({ client: 'x', seq: 1 })],
];

for (const protocol of ['raft', 'multipaxos', 'vr']) {
  for (const m of MACHINES) {
    test(`${protocol}, ${m.name}: a forwarded command that is no command (a forged peer frame) is answered INVALID_ARGUMENT and never proposed; a well-formed one commits`, () => {
      const c = new TestCluster<unknown>(['n1', 'n2', 'n3'], { protocol: protocolByName(protocol), protocolOptions: QUIET_LEADER_OPTIONS, stateMachine: m.create });
      c.elect('n1');
      const from = c.member('n2').id;
      const to = c.member('n1').id;
      const answerTo = (requestId: string) => c.sent.find((f): f is ForwardResult => f.kind === 'forward-result' && f.requestId === requestId);
      const before = c.driver('n1').status().commitIndex;
      const saves = c.member('n1').storage.saves.length;
      for (const [what, command] of GARBAGE) {
        c.driver('n1').receive({ kind: 'forward-proposal', from, to, requestId: `forged/${what}`, command });
        const answer = answerTo(`forged/${what}`);
        assert.ok(answer !== undefined && !answer.ok, `${what}: the leader answered with an error at once`);
        assert.equal(answer.error?.code, 'INVALID_ARGUMENT', what);
      }
      c.settle();
      assert.equal(c.member('n1').storage.saves.length, saves, 'nothing was appended to the leader\'s log');
      assert.equal(c.driver('n1').status().commitIndex, before, 'nothing was committed');

      c.driver('n1').receive({ kind: 'forward-proposal', from, to, requestId: 'well-formed', command: m.write });
      c.runFor(3_000);
      const ok = answerTo('well-formed');
      assert.ok(ok !== undefined && ok.ok, `a well-formed forwarded command commits: ${JSON.stringify(ok?.error)}`);
      for (const member of c.members.values()) assert.ok(member.driver.running, `${member.id} keeps running`);
    });
  }
}
