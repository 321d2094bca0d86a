/**
 * One command limit per member, the driver's maxCommandBytes (which --max-request-bytes sets):
 * the protocol core takes it too, so a raised limit lets a large command through on every
 * protocol, and a command over it is refused on every path, a forwarded one included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ForwardResult } from '../../src/driver/wire.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { RegisterKv, encodeCommand, type RegisterResult } from '../../src/statemachine/register-kv.js';
import { Answer, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

const MiB = 1024 * 1024;

/** A register put whose encoding is about `bytes` long (the key carries the bulk). */
function command(client: number, bytes: number): Uint8Array {
  return encodeCommand({ client, seq: 1, op: { f: 'put', key: 'k'.repeat(bytes), value: client } });
}

function cluster(protocol: string, maxCommandBytes: number): TestCluster<RegisterResult> {
  const c = new TestCluster<RegisterResult>(['n1', 'n2', 'n3', ...(protocol === 'pbft' ? ['n4'] : [])], {
    protocol: protocolByName(protocol),
    protocolOptions: protocol === 'pbft' ? {} : QUIET_LEADER_OPTIONS,
    stateMachine: () => new RegisterKv(),
    limits: () => ({ maxCommandBytes }),
  });
  if (protocol !== 'pbft') c.elect('n1');
  return c;
}

for (const protocol of ['raft', 'multipaxos', 'pbft', 'vr']) {
  test(`${protocol}: a limit raised to 4 MiB lets a 3 MiB command commit; over the limit it is refused`, () => {
    const c = cluster(protocol, 4 * MiB);
    const big = new Answer<RegisterResult>();
    c.driver('n1').propose(command(1, 3 * MiB), big.reply);
    c.runFor(3_000);
    assert.equal(big.outcome, 'ok', `a 3 MiB command under a 4 MiB limit: ${String(big.outcome)}`);
    const over = new Answer<RegisterResult>();
    c.driver('n1').propose(command(2, 4 * MiB + 1), over.reply);
    assert.equal(over.outcome, 'REQUEST_TOO_LARGE');
  });
}

for (const protocol of ['raft', 'multipaxos', 'vr']) {
  test(`${protocol}: the core refuses a command over the member's limit, whoever hands it over`, () => {
    const c = cluster(protocol, 1000);
    assert.throws(() => c.driver('n1').replica.propose(command(1, 2000)), (err: { code?: string }) => err.code === 'REQUEST_TOO_LARGE');
  });

  test(`${protocol}: a forwarded command over the leader's limit (a forged peer frame) is answered with REQUEST_TOO_LARGE and never committed`, () => {
    const c = cluster(protocol, 1000);
    const before = c.driver('n1').status().commitIndex;
    c.driver('n1').receive({ kind: 'forward-proposal', from: c.member('n2').id, to: c.member('n1').id, requestId: 'forged-1', command: command(1, 2000) });
    c.tick(3, 'n1');
    const answer = c.sent.find((f): f is ForwardResult => f.kind === 'forward-result' && f.requestId === 'forged-1');
    assert.ok(answer !== undefined && !answer.ok, 'the leader answered the forwarded proposal with an error');
    assert.equal(answer.error?.code, 'REQUEST_TOO_LARGE');
    assert.equal(c.driver('n1').status().commitIndex, before, 'nothing was committed');
  });
}
